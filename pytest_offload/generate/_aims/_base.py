"""What an aim is, and the pieces every aim builds scenarios from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_offload.generate._spec import BlockSpec, InFlight, TreeSpec
from pytest_offload.generate._strategies import (
    path_states,
    scenarios,
    tcp_states,
)
from pytest_offload.model import (
    NeighborOffloadState,
    PathOffloadState,
    PathOffloadStateCached,
    Role,
    TcpOffloadState,
    TcpOffloadStateCached,
    state_type_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.model import OffloadCapabilities


Scenario = tuple[TreeSpec | InFlight, ...]
ScenarioStrategy = st.SearchStrategy[Scenario]


@dataclass(frozen=True, slots=True)
class Aim:
    """How to provoke one rule: a scenario strategy, or why the declaration rules it out."""

    build: Callable[[OffloadCapabilities], ScenarioStrategy]
    unreachable: Callable[[OffloadCapabilities], str | None] = lambda caps: None
    #: Blocks one case builds, when that grows with the declaration (capacity aims).
    cost: Callable[[OffloadCapabilities], int] | None = None
    #: Whether its cases are robustness cases (not applicable when those are turned off).
    robustness: bool = False
    #: Whether it judges a wire (not applicable to a target in the suite's process).
    wire: bool = False
    #: Whether its cases are lifecycle state-machine runs, not scenarios.
    lifecycle: bool = False
    #: The aim whose generation it shares (its cases are generated once for all).
    shared: str | None = None

    def examples(self, caps: OffloadCapabilities, budget: int) -> int:
        """Cases to generate: the budget, or fewer when each case fills a capacity above
        4,096 (at least 3), so that any declared capacity can be exercised."""
        if self.cost is None:
            return budget
        size = self.cost(caps)
        return budget if size <= 4096 else max(3, budget * 4096 // size)

    def not_applicable(
        self, caps: OffloadCapabilities, *, robustness: bool, transport: str | None = None
    ) -> str | None:
        """Why the declaration, the settings or the transport rule out every opportunity,
        if they do (``transport`` ``None``: the target runs in the suite's process)."""
        if self.robustness and not robustness:
            return "robustness cases are turned off (--offload-robustness=off)"
        if self.wire and transport is None:
            return "the target runs in the suite's process: nothing crosses a wire"
        return self.unreachable(caps)


def _single(strategy: st.SearchStrategy[TreeSpec]) -> ScenarioStrategy:
    return strategy.map(lambda spec: (spec,))


def _general(caps: OffloadCapabilities) -> ScenarioStrategy:
    return scenarios(capabilities=caps, min_initiates=1, max_initiates=3, in_flight=True)


def _linking(caps: OffloadCapabilities) -> ScenarioStrategy:
    return scenarios(capabilities=caps, min_initiates=2, max_initiates=3)


def _new(state: object, *deps: BlockSpec, send: tuple[int, ...] = ()) -> BlockSpec:
    assert isinstance(state, NeighborOffloadState | PathOffloadState | TcpOffloadState)
    return BlockSpec(
        Role.NEW_OFFLOAD, state_type_of(state), state, send_data=send, dependents=deps
    )


def _benign_path(caps: OffloadCapabilities) -> st.SearchStrategy[PathOffloadState]:
    version = 4 if caps.support_ipv4 else 6
    mtu = min(1500, caps.max_path_mtu)
    return path_states(ip_version=version).map(
        lambda p: PathOffloadState(const=p.const, cached=PathOffloadStateCached(path_mtu=mtu))
    )


def _benign_tcp(caps: OffloadCapabilities) -> st.SearchStrategy[TcpOffloadState]:
    wnd = min(65535, caps.max_initial_rcv_wnd)
    return tcp_states(established=True).map(
        lambda t: TcpOffloadState(const=t.const, cached=TcpOffloadStateCached(initial_rcv_wnd=wnd))
    )
