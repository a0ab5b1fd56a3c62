"""A broken lifecycle target of tests/broken_lifecycle.py, for ``pytest-offload serve``.

``OFFLOAD_BROKEN_RULE`` names the rule whose broken target is served, so that the tests
judge each one over the process protocol as they judge it in-process.
"""

from __future__ import annotations

import os
from typing import Any

from tests.broken_lifecycle import BROKEN_LIFECYCLE


def create_target(host: Any) -> Any:
    return BROKEN_LIFECYCLE[os.environ["OFFLOAD_BROKEN_RULE"]](host)
