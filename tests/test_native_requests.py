"""A lifecycle request's tree in C memory, and the structures a C target fills read back
(pytest_offload/harness/transports/native/_requests.py), without a vendor library.

The poisoned structure must tell every field a target wrote from every field it left,
for any value the generator offloads (a query echoes those), and a pointer a target
writes into nothing must be a value, never a crash of the child.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from pytest_offload.harness.transports._messages import State, TcpCached, Tree
from pytest_offload.harness.transports.native._build import build_harness
from pytest_offload.harness.transports.native._library import Library
from pytest_offload.harness.transports.native._readback import (
    NblNames,
    _value,
    read_structures,
)
from pytest_offload.harness.transports.native._requests import (
    FIELDS,
    POISON_BYTE,
    UNIONS,
    pack_request,
    poisoned_structures,
)
from pytest_offload.harness.transports.native._states import (
    neighbor_cached,
    neighbor_const,
    structures,
    tcp_cached,
    tcp_const,
    tcp_delegated,
)
from pytest_offload.model import OffloadOperation as Op
from pytest_offload.model import TcpOffloadStateCached
from pytest_offload.strategies import neighbor_states, tcp_states
from tests.test_native import GCC

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed (.ci/run installs it)")
_BLOCK = 0x98
_TCP = ("TCP_OFFLOAD_STATE_CONST", "TCP_OFFLOAD_STATE_CACHED", "TCP_OFFLOAD_STATE_DELEGATED")
_NEIGHBOR = (
    "NEIGHBOR_OFFLOAD_STATE_CONST",
    "NEIGHBOR_OFFLOAD_STATE_CACHED",
    "NEIGHBOR_OFFLOAD_STATE_DELEGATED",
)
_STATE = msgspec.json.Decoder(State)


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.harness_only(str(build_harness()))


def _request(state_type: int, *, states: list[Any] | None = None) -> Tree:
    """A request naming one object (a TCP block under two placeholders when TCP)."""
    tcp = state_type >= 13
    n = 3 if tcp else 1
    return Tree(
        count=n,
        state_type=[4, 8, state_type] if tcp else [state_type],
        next_block=[None] * n,
        dependent_block_list=[1, 2, None] if tcp else [None],
        context_slot=[False, False, True] if tcp else [True],
        context=[None, None, "0x1000"] if tcp else ["0x1000"],
        ndis_offload_handle=[None] * n,
        state=[None] * n if not states else [None, None, 0] if tcp else [0],
        states=states or [],
    )


def _write(packed: Any, position: int, data: bytes) -> None:
    ctypes.memmove(packed.base + packed.offsets[position] + _BLOCK, data, len(data))


def _read(packed: Any, operation: Op) -> tuple[list[Any], list[Any]]:
    states, unfilled = read_structures(packed, packed.memory.raw, operation, NblNames({}, {}))
    return [None if s is None else _STATE.decode(bytes(s)) for s in states], unfilled


def test_a_terminate_block_is_followed_by_its_structure_poisoned_with_its_length(
    library: Library,
) -> None:
    packed = pack_request(_request(15), library, Op.TERMINATE)
    at = packed.offsets[2] + _BLOCK
    raw = packed.memory.raw[at : at + 0x80]
    assert struct.unpack_from("<I", raw)[0] == 0x80  # Header.Length: the stride
    assert set(raw[8:]) == {POISON_BYTE}
    assert packed.structures == {2: _TCP[2:]}
    # Nothing written: no structure comes back, the suite keeps its poisoned one.
    assert _read(packed, Op.TERMINATE) == ([None, None, None], [None, None, None])


def test_fields_left_as_handed_over_are_named_unfilled(library: Library) -> None:
    packed = pack_request(_request(15), library, Op.TERMINATE)
    at = packed.base + packed.offsets[2] + _BLOCK
    ctypes.memmove(at + 0x10, struct.pack("<I", 1000), 4)  # RcvNxt alone
    ctypes.memmove(at + 0x50, b"\x00", 1)  # KeepAlive.ProbeCount, not its TimeoutDelta
    states, unfilled = _read(packed, Op.TERMINATE)
    assert states[2].delegated.rcv_nxt == 1000
    names = unfilled[2]
    assert "rcv_nxt" not in names
    assert {"cwnd", "state", "keep_alive", "send_data_head", "dwnd"} <= set(names)


@settings(max_examples=60, deadline=None)
@given(state=tcp_states())
def test_a_query_filled_with_any_offloaded_tcp_state_reads_back_whole(
    library: Library, state: Any
) -> None:
    packed = pack_request(_request(17), library, Op.QUERY)
    body = structures(
        _TCP, (tcp_const(state), tcp_cached(state), tcp_delegated(state, lambda _: 0))
    )
    _write(packed, 2, body)
    # The query arms of the unions: the backlog sizes.
    at = packed.base + packed.offsets[2] + _BLOCK + 0x18 + 0x30
    ctypes.memmove(at + 0x60, struct.pack("<I", 7), 4)
    ctypes.memmove(at + 0x70, struct.pack("<I", 0xFFFFFFFF), 4)
    states, unfilled = _read(packed, Op.QUERY)
    assert unfilled == [None, None, None]
    got = states[2]
    assert got.const == state.const
    assert got.cached == state.cached
    assert got.delegated.rcv_nxt == state.delegated.rcv_nxt
    assert got.delegated.state == state.delegated.state
    assert got.delegated.keep_alive == state.delegated.keep_alive
    assert (got.delegated.send_backlog_size, got.delegated.receive_backlog_size) == (
        7,
        0xFFFFFFFF,
    )
    assert got.delegated.send_data_head is None
    assert got.delegated.buffered_data == ()


def _fields_poisoned(name: str, body: bytes, operation: Op) -> list[str]:
    """The fields of structure ``name`` whose bytes in ``body`` equal the poison."""
    poison = poisoned_structures((name,))
    raw = struct.pack("<II", len(poison), 0) + body
    fields = FIELDS[name] + (UNIONS[operation] if name == _TCP[2] else ())
    found = []
    for field_name, offset, how in fields:
        if how in ("nbl", "chain", "address"):
            continue  # pointers: the generator offloads no 0xDEDE... address
        _, untouched = _value(how, raw, poison, offset, ip_size=4, nbls=NblNames({}, {}))
        if untouched:
            found.append(field_name)
    return found


@settings(max_examples=200, deadline=None)
@given(state=tcp_states())
def test_no_tcp_value_the_generator_offloads_is_the_poison(state: Any) -> None:
    for name, body in zip(
        _TCP,
        (tcp_const(state), tcp_cached(state), tcp_delegated(state, lambda _: 0)),
        strict=True,
    ):
        assert _fields_poisoned(name, body, Op.QUERY) == []


@settings(max_examples=200, deadline=None)
@given(state=neighbor_states())
def test_no_neighbor_value_the_generator_offloads_is_the_poison(state: Any) -> None:
    for name, body in zip(
        _NEIGHBOR[:2], (neighbor_const(state), neighbor_cached(state)), strict=True
    ):
        assert _fields_poisoned(name, body, Op.QUERY) == []


def test_an_update_hands_its_new_cached_structure_over_as_it_came(library: Library) -> None:
    cached = TcpOffloadStateCached(flags=3, initial_rcv_wnd=9999, ttl_or_hop_limit=7)
    packed = pack_request(_request(14, states=[TcpCached(cached)]), library, Op.UPDATE)
    at = packed.offsets[2] + _BLOCK
    raw = packed.memory.raw[at : at + 0x30]
    assert struct.unpack_from("<I", raw)[0] == 0x30
    assert struct.unpack_from("<HxxI", raw, 8) == (3, 9999)
    assert raw[0x28] == 7
    assert packed.structures == {}  # nothing for the target to fill


def test_a_path_address_pointing_at_nothing_reads_as_zeros_not_a_crash(
    library: Library,
) -> None:
    packed = pack_request(_request(8), library, Op.QUERY)  # a path, combined
    address = ctypes.create_string_buffer(b"\x0a\x00\x00\x01")
    at = packed.base + packed.offsets[0] + _BLOCK
    ctypes.memmove(at + 8, struct.pack("<QQ", ctypes.addressof(address), 0x10), 16)
    ctypes.memmove(at + 0x18 + 8, struct.pack("<I", 1500), 4)  # PathMtu
    states, unfilled = _read(packed, Op.QUERY)
    assert states[0].const.source_address == b"\x0a\x00\x00\x01"
    assert states[0].const.destination_address == bytes(4)  # 0x10: not readable
    assert states[0].cached.path_mtu == 1500
    assert unfilled == [None]
