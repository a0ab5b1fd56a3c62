"""The native transport's foundations: the user-mode NDIS chimney header and its layout.

``include/ndis.h`` and ``include/ndischimney.h`` let a vendor's offload C code that walks
the state tree compile unchanged in user mode (NDIS's names, the Windows x64 layout,
asserted at compile time: build with ``-mms-bitfields``). :data:`LAYOUT` is the same
layout for the Python side. ``pytest-offload include-dir`` prints where the headers are.

Not yet here (issue 12): the harness that loads a vendor library in a child process,
marshals trees into C memory and judges it (``--offload-target=native:...``).
"""

from __future__ import annotations

from pathlib import Path

from pytest_offload.harness.transports.native._layout import COMBINED_STATES as COMBINED_STATES
from pytest_offload.harness.transports.native._layout import LAYOUT as LAYOUT
from pytest_offload.harness.transports.native._layout import state_stride as state_stride

__all__ = ["COMBINED_STATES", "LAYOUT", "include_dir", "state_stride"]


def include_dir() -> Path:
    """The directory holding ``ndis.h`` and ``ndischimney.h`` (for ``-I``)."""
    return Path(__file__).resolve().parent / "include"
