"""Trees to wire messages and images back onto trees, on either side of the protocol.

The suite side encodes the blocks it handed over (:func:`encode_tree`) and applies what
the target sends back onto the same Python objects (:func:`apply_image`), so the
recording host, the snapshots and every rule judge a process target exactly as they judge
an in-process one. The serving side (``pytest-offload serve``) does the reverse
(:func:`decode_tree`, :func:`image_of`).

Trees and images are columns (one list per field), so both directions are a handful of
``map`` calls per field at C speed; Python loops run only over the blocks that carry
something unusual (a pointer to make up, send data, a changed host field).

- ``_values``: statuses, pointers and the :class:`PointerTable` (scalars both sides use).
- ``_columns``: whole columns (fields of every block, ints, pointers, reserved words).
- ``_states``: state structures and the NBLs inside them.
- ``_handover``: an initiate's columns from the host's hand-over snapshot.
- ``_encode``, ``_apply``: the suite side, out and back.
- ``_serving``: the serving side.
"""

from __future__ import annotations

from pytest_offload.harness.transports.codec._apply import apply_image, memory_writes
from pytest_offload.harness.transports.codec._encode import encode_tree
from pytest_offload.harness.transports.codec._serving import (
    FOREIGN_NBL_BASE,
    decode_tree,
    host_fields,
    image_of,
)
from pytest_offload.harness.transports.codec._states import nbl_hook, nbl_ref_hook
from pytest_offload.harness.transports.codec._values import (
    FAKE_BASE,
    SERVE_BASE,
    PointerTable,
    WireError,
    pointer_from_wire,
    pointers_from_wire,
    status_from_wire,
    u32,
)

__all__ = [
    "FAKE_BASE",
    "FOREIGN_NBL_BASE",
    "SERVE_BASE",
    "PointerTable",
    "WireError",
    "apply_image",
    "decode_tree",
    "encode_tree",
    "host_fields",
    "image_of",
    "memory_writes",
    "nbl_hook",
    "nbl_ref_hook",
    "pointer_from_wire",
    "pointers_from_wire",
    "status_from_wire",
    "u32",
]
