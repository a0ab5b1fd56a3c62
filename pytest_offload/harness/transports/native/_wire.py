"""An initiate as the native child decodes it: the protocol's ``Tree`` with its large
per-block columns of links, state indices and pointers kept as raw JSON.

The harness parses those straight into the C arrays the packing reads
(``pyo_json_positions``, ``pyo_json_pointers`` in harness.c), checking each entry as the
schema does, so a 100,000-block tree never becomes 600,000 Python objects only to be
converted again (benchmarks/bench_native.py). Every other field decodes as ``Tree``
says. The type is made from ``Tree``'s own fields, so it cannot drift from the protocol.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.structs

from pytest_offload.harness.transports._messages import InitiateParams, Tree
from pytest_offload.harness.transports.codec import nbl_ref_hook

__all__ = ["RAW_COLUMNS", "decode_initiate"]

#: The columns kept as JSON text: positions (or null) and pointers (or null).
POSITION_COLUMNS = ("next_block", "dependent_block_list", "state")
POINTER_COLUMNS = ("context", "ndis_offload_handle", "source_handle")
RAW_COLUMNS = frozenset(POSITION_COLUMNS + POINTER_COLUMNS)


def _field(info: Any) -> tuple[Any, ...]:
    kind = msgspec.Raw if info.name in RAW_COLUMNS else info.type
    if info.required:
        return (info.name, kind)
    if info.name in RAW_COLUMNS:
        kind = msgspec.Raw | msgspec.UnsetType
    return (info.name, kind, info.default)


NativeTree = msgspec.defstruct(
    "NativeTree",
    [_field(info) for info in msgspec.structs.fields(Tree)],
    forbid_unknown_fields=True,
    omit_defaults=True,
)
NativeInitiateParams = msgspec.defstruct(
    "NativeInitiateParams",
    [
        (info.name, NativeTree if info.name == "tree" else info.type)
        for info in msgspec.structs.fields(InitiateParams)
    ],
    forbid_unknown_fields=True,
)
_DECODER = msgspec.json.Decoder(NativeInitiateParams, dec_hook=nbl_ref_hook)


def decode_initiate(raw: bytes | msgspec.Raw) -> Any:
    """The params of an ``initiate_offload`` (``.initiate``, ``.tree``).

    Raises:
        msgspec.ValidationError: a field that is not what the schema says (the raw
            columns are checked when packed: ``WireError``).
    """
    return _DECODER.decode(raw)
