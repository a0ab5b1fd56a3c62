"""The native transport's foundations: the user-mode NDIS chimney header and its layout.

``include/ndis.h`` and ``include/ndischimney.h`` let a vendor's offload C code that walks
the state tree compile unchanged in user mode (NDIS's names, the Windows x64 layout,
asserted at compile time: build with ``-mms-bitfields``). :data:`LAYOUT` is the same
layout for the Python side. ``pytest-offload include-dir`` prints where the headers are.

``--offload-target=native:LIBRARY`` runs a vendor library in a child process
(:class:`NativeTargetFactory`, docs/native.md): the harness library (``harness.c``, built
with the system compiler on first use) plays NDIS, trees are packed into C memory, and
what the target wrote is read back and judged by the same rules.
"""

from __future__ import annotations

from pathlib import Path

from pytest_offload.harness.transports.native._factory import (
    NativeTargetFactory as NativeTargetFactory,
)
from pytest_offload.harness.transports.native._factory import parse_native as parse_native
from pytest_offload.harness.transports.native._layout import COMBINED_STATES as COMBINED_STATES
from pytest_offload.harness.transports.native._layout import LAYOUT as LAYOUT
from pytest_offload.harness.transports.native._layout import state_stride as state_stride

__all__ = [
    "COMBINED_STATES",
    "LAYOUT",
    "NativeTargetFactory",
    "include_dir",
    "parse_native",
    "state_stride",
]


def include_dir() -> Path:
    """The directory holding ``ndis.h`` and ``ndischimney.h`` (for ``-I``)."""
    return Path(__file__).resolve().parent / "include"
