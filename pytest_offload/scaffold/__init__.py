"""Starting adapters: ``pytest-offload new-adapter --kind python|process|native DIR``.

Writes a skeleton target of the chosen kind that already runs under the suite (it walks
each tree and refuses every new offload cleanly, so its first verdict comes at once and
points at what to implement), the build line where there is one, and a CI snippet that
runs the suite on it and keeps the certificate.
"""

from __future__ import annotations

from pytest_offload.scaffold._write import KINDS as KINDS
from pytest_offload.scaffold._write import ScaffoldError as ScaffoldError
from pytest_offload.scaffold._write import new_adapter as new_adapter

__all__ = ["KINDS", "ScaffoldError", "new_adapter"]
