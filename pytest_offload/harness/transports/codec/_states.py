"""State structures to the wire and back, with the NBLs they name (send data, buffered
data) written as whole wire NBLs carrying the same ids as the blocks' chains."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec

from pytest_offload.harness.transports._messages import Nbl as WireNbl
from pytest_offload.harness.transports._messages import (
    NeighborCached,
    NeighborConst,
    NeighborDelegated,
    NeighborState,
    PathCached,
    PathConst,
    PathDelegated,
    PathState,
    State,
    TcpCached,
    TcpConst,
    TcpDelegated,
    TcpState,
)
from pytest_offload.harness.transports.codec._values import status_from_wire, u32
from pytest_offload.model import (
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    NetBufferList,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    is_poisoned,
)

__all__ = ["nbl_hook", "nbl_ref_hook"]


def _wire_state(state: object) -> State | None:
    """The wire form of a state structure: ``None`` for no structure, or one still
    holding the poison (a terminate's or query's structure the target did not fill)."""
    if isinstance(state, TcpOffloadState):
        wire: Any = TcpState(state.const, state.cached, state.delegated)
    elif isinstance(state, PathOffloadState):
        wire = PathState(state.const, state.cached, state.delegated)
    elif isinstance(state, NeighborOffloadState):
        wire = NeighborState(state.const, state.cached, state.delegated)
    else:
        part = _PARTS.get(type(state))
        if part is None:
            return None
        wire = part(state)
    if is_poisoned(state):
        return None
    return wire  # type: ignore[no-any-return]


#: The wire structure of each single part, by the model's class.
_PARTS: dict[type, type] = {
    NeighborOffloadStateConst: NeighborConst,
    NeighborOffloadStateCached: NeighborCached,
    NeighborOffloadStateDelegated: NeighborDelegated,
    PathOffloadStateConst: PathConst,
    PathOffloadStateCached: PathCached,
    PathOffloadStateDelegated: PathDelegated,
    TcpOffloadStateConst: TcpConst,
    TcpOffloadStateCached: TcpCached,
    TcpOffloadStateDelegated: TcpDelegated,
}


def nbl_hook(
    nbl_ids: dict[int, int], next_nbl: Any = None, nbls: dict[int, NetBufferList] | None = None
) -> Any:
    """The msgspec ``enc_hook`` writing an NBL inside a state (send_data_head, _tail,
    buffered_data) as a whole wire NBL, with the same id as in the block's chain."""

    def hook(value: object) -> object:
        if isinstance(value, NetBufferList):
            nid = nbl_ids.get(id(value))
            if nid is None:
                nid = nbl_ids[id(value)] = next_nbl() if next_nbl is not None else 0
            if nbls is not None:
                nbls[nid] = value
            return WireNbl(nid, value.data, u32(value.status))
        raise NotImplementedError(f"cannot send {type(value).__name__} over the wire")

    return hook


class _NblRef(NetBufferList):
    """An NBL decoded inside a state, replaced by the chain's NBL of the same id if any."""

    __slots__ = ("wire_id",)

    def __init__(self, wire_id: int, data: bytes, status: object) -> None:
        super().__init__(data, status)  # type: ignore[arg-type]
        self.wire_id = wire_id


def nbl_ref_hook(kind: type, value: Any) -> Any:
    """The msgspec ``dec_hook`` reading an NBL inside a state."""
    if kind is NetBufferList:
        wire = msgspec.convert(value, WireNbl)
        return _NblRef(wire.id, wire.data, status_from_wire(wire.status))
    raise NotImplementedError(kind)


def _tcp_delegated(
    delegated: TcpOffloadStateDelegated, nbls: dict[int, NetBufferList]
) -> TcpOffloadStateDelegated:
    """``delegated`` with its NBLs replaced by the NBLs of the same ids in ``nbls``."""

    def nbl(ref: object) -> object:
        if isinstance(ref, _NblRef):
            return nbls.setdefault(ref.wire_id, ref)
        return ref

    if (
        delegated.send_data_head is None
        and delegated.send_data_tail is None
        and not delegated.buffered_data
    ):
        return delegated
    return replace(
        delegated,
        send_data_head=nbl(delegated.send_data_head),  # type: ignore[arg-type]
        send_data_tail=nbl(delegated.send_data_tail),  # type: ignore[arg-type]
        buffered_data=tuple(nbl(b) for b in delegated.buffered_data),  # type: ignore[misc]
    )


def _model_state(state: State, nbls: dict[int, NetBufferList]) -> object:
    if isinstance(state, TcpState):
        delegated = _tcp_delegated(state.delegated, nbls)
        return TcpOffloadState(const=state.const, cached=state.cached, delegated=delegated)
    if isinstance(state, PathState):
        return PathOffloadState(const=state.const, cached=state.cached, delegated=state.delegated)
    if isinstance(state, NeighborState):
        return NeighborOffloadState(
            const=state.const, cached=state.cached, delegated=state.delegated
        )
    if isinstance(state, TcpDelegated):
        return _tcp_delegated(state.delegated, nbls)
    # A single part: the structure it carries.
    return getattr(state, state.__struct_fields__[0])
