"""Connections a capacity step offers: quiet, no send or buffered data, within the
declaration, so that capacity alone decides them."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from pytest_offload.generate._lifecycle._steps import TcpPlan
from pytest_offload.model import (
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
)

if TYPE_CHECKING:
    from pytest_offload.model import OffloadCapabilities

__all__ = ["fill_connections"]


def fill_connections(caps: OffloadCapabilities, count: int) -> tuple[TcpPlan, ...]:
    """``count`` quiet ESTABLISHED connections, each on its own local port."""
    return _connections(min(65535, caps.max_initial_rcv_wnd), count)


@lru_cache(maxsize=64)
def _connections(window: int, count: int) -> tuple[TcpPlan, ...]:
    cached = TcpOffloadStateCached(initial_rcv_wnd=window)
    delegated = TcpOffloadStateDelegated()
    return tuple(
        TcpPlan(
            TcpOffloadState(
                const=TcpOffloadStateConst(local_port=1024 + n % 64000),
                cached=cached,
                delegated=delegated,
            )
        )
        for n in range(count)
    )
