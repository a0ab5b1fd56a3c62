"""The adapter contract (rules.md section 2): what a vendor module provides and receives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model._capabilities import OffloadCapabilities
    from pytest_offload.model._state import NetBufferList
    from pytest_offload.model._tree import OffloadBlockList

__all__ = ["Host", "OffloadTarget", "TargetFactory"]


@runtime_checkable
class Host(Protocol):
    """The host side a target completes to; the suite provides one per target instance."""

    def initiate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMInitiateOffloadComplete: hand the whole tree back, exactly once."""

    def tcp_offload_send_complete(self, chain: Sequence[NetBufferList]) -> None:
        """NdisTcpOffloadSendComplete: return send data to the host."""


@runtime_checkable
class OffloadTarget(Protocol):
    """What ``create_target(host)`` returns: a target with its declaration.

    ``initiate_offload`` mirrors ``MiniportInitiateOffload``: it may complete inside the call
    or later from any thread, by calling ``host.initiate_offload_complete(root)`` once, with
    the same root, after writing a status into every block.
    """

    capabilities: OffloadCapabilities

    def initiate_offload(self, root: OffloadBlockList) -> None:
        """Offload the state tree under ``root``."""


class TargetFactory(Protocol):
    """``create_target``: called once per test case with a fresh host."""

    def __call__(self, host: Host, /) -> OffloadTarget: ...
