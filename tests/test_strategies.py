"""The public strategies: boundary values, argument validation, shrinking to small trees."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import InvalidArgument

import reference_target
from pytest_offload import (
    InFlight,
    NdisStatus,
    OffloadCapabilities,
    OffloadOperation,
    TreeSpec,
    run_scenario,
)
from pytest_offload.generate import AIMS, aim_for, aim_key
from pytest_offload.strategies import (
    neighbor_states,
    path_states,
    scenarios,
    state_trees,
    tcp_states,
    tree_specs,
)

CAPS = OffloadCapabilities(
    tcp_connection_offload_capacity=4,
    max_path_mtu=9000,
    max_initial_rcv_wnd=262144,
    interface_vlan_ids=frozenset({7}),
)
FIND = settings(
    max_examples=2000,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate, Phase.shrink],  # no explain phase: it re-runs every draw
    derandomize=True,
)


@pytest.mark.parametrize("vlan", [0, 1, 4094, 4095, 7])
def test_neighbor_vlan_boundaries_are_generated(vlan: int) -> None:
    find(neighbor_states(capabilities=CAPS), lambda s: s.const.vlan_id == vlan, settings=FIND)


def test_zero_and_own_source_macs_are_generated() -> None:
    find(neighbor_states(), lambda s: not s.const.has_source_mac, settings=FIND)
    find(neighbor_states(), lambda s: s.const.has_source_mac, settings=FIND)


@pytest.mark.parametrize("mtu", [8999, 9000, 9001])
def test_path_mtu_at_under_and_past_the_limit(mtu: int) -> None:
    find(path_states(capabilities=CAPS), lambda s: s.cached.path_mtu == mtu, settings=FIND)


@pytest.mark.parametrize("wnd", [262143, 262144, 262145])
def test_receive_window_at_under_and_past_the_limit(wnd: int) -> None:
    find(tcp_states(capabilities=CAPS), lambda s: s.cached.initial_rcv_wnd == wnd, settings=FIND)


@pytest.mark.parametrize(("version", "size"), [(4, 4), (6, 16)])
def test_ip_versions(version: int, size: int) -> None:
    state = find(path_states(ip_version=version), lambda s: True, settings=FIND)
    assert len(state.const.source_address) == size


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (
            lambda: tree_specs(min_neighbors=2, max_neighbors=1),
            "max_neighbors=1 < min_neighbors=2",
        ),
        (lambda: tree_specs(min_neighbors=0), "min_neighbors=0 must be at least 1"),
        (lambda: tree_specs(max_paths=-1), "max_paths=-1 < min_paths=0"),
        (lambda: path_states(ip_version=5), "ip_version=5 must be 4, 6 or None"),
        (lambda: scenarios(min_initiates=3, max_initiates=2), "max_initiates=2 < min_initiates=3"),
    ],
)
def test_bad_arguments_raise_invalid_argument(strategy: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        find(strategy(), lambda x: True)  # type: ignore[operator]


def test_repr_shows_how_the_strategy_was_built() -> None:
    assert "max_neighbors=3" in repr(tree_specs(max_neighbors=3))


@given(tree_specs(benign=True, capabilities=CAPS))
def test_benign_trees_stay_within_the_declaration(spec: TreeSpec) -> None:
    outcome = run_scenario(reference_target.create_target, [spec])
    assert outcome.reports[0].violations == []


@given(state_trees(max_neighbors=2))
def test_state_trees_are_fresh_blocks_all_pending(root: object) -> None:
    from pytest_offload import iter_depth_first

    assert all(block.status == NdisStatus.PENDING for block, *_ in iter_depth_first(root))  # type: ignore[arg-type]


def _tcp_count(spec: TreeSpec) -> int:
    return sum(len(p.dependents) for n in spec.roots for p in n.dependents)


def test_shrinking_ends_at_a_handful_of_blocks() -> None:
    """More connections than a capacity of 4 shrinks to one neighbor, two paths (at most
    three connections each) and five connections; a path past the MTU limit shrinks to
    that path under one neighbor."""
    over = find(
        tree_specs(capabilities=CAPS, max_neighbors=2, max_paths=2, max_connections=3),
        lambda s: _tcp_count(s) > 4,
        settings=FIND,
    )
    assert 8 <= len(over) <= 10  # 8 is the optimum; the shrinker may stop a little short
    too_big = find(
        tree_specs(capabilities=CAPS, max_neighbors=2, max_paths=2, max_connections=2),
        lambda s: any(p.state.cached.path_mtu > 9000 for n in s.roots for p in n.dependents),
        settings=FIND,
    )
    assert len(too_big) <= 3


REFERENCE_CAPS = reference_target.create_target(None).capabilities  # type: ignore[arg-type]


@pytest.mark.parametrize("rule_id", sorted(r for r, aim in AIMS.items() if not aim.lifecycle))
def test_every_aim_builds_scenarios_for_the_reference_declaration(rule_id: str) -> None:
    @settings(max_examples=5, database=None, suppress_health_check=list(HealthCheck))
    @given(aim_for(rule_id).build(REFERENCE_CAPS))
    def builds(scenario: tuple[TreeSpec, ...]) -> None:
        assert scenario
        assert all(isinstance(step, TreeSpec | InFlight) and len(step) > 0 for step in scenario)

    builds()


def test_lifecycle_aims_share_one_state_machine_generation() -> None:
    lifecycle = {r for r, aim in AIMS.items() if aim.lifecycle}
    assert len(lifecycle) == 22
    assert {aim_key(r) for r in lifecycle} == {"LIFE-COMPLETE-ONCE"}
    with pytest.raises(TypeError, match="state machine"):
        aim_for("TRM-SEND-DATA-ONCE").build(REFERENCE_CAPS)


def test_a_lifecycle_rule_is_not_applicable_without_its_operations() -> None:
    v1 = OffloadCapabilities(tcp_connection_offload_capacity=4)
    reason = aim_for("UPD-QUERY-SHOWS").not_applicable(v1, robustness=True)
    assert reason is not None
    assert "TERMINATE and UPDATE and QUERY" in reason
    assert aim_for("UPD-QUERY-SHOWS").not_applicable(REFERENCE_CAPS, robustness=True) is None
    few = OffloadCapabilities(
        tcp_connection_offload_capacity=4,
        neighbor_capacity=1,
        operations=frozenset(OffloadOperation),
    )
    assert "neighbor_capacity=1" in (
        aim_for("UPD-RELINK").not_applicable(few, robustness=True) or ""
    )
    assert "robustness" in (
        aim_for("LIFE-ROBUST-FAILURE").not_applicable(REFERENCE_CAPS, robustness=False) or ""
    )


def test_an_aim_says_why_a_declaration_rules_its_cause_out() -> None:
    open_caps = OffloadCapabilities(
        tcp_connection_offload_capacity=4, configurable_source_mac=True
    )
    assert "no non-zero interface_vlan_ids" in (
        aim_for("INI-ROOT-SIBLINGS").not_applicable(open_caps, robustness=True) or ""
    )
    old = OffloadCapabilities(tcp_connection_offload_capacity=4, ndis_version=(6, 1))
    assert aim_for("INI-CONNECTION-REJECTED-VERSION").not_applicable(old, robustness=True) is None
    assert "robustness" in (
        aim_for("INI-UNKNOWN-LINKER").not_applicable(CAPS, robustness=False) or ""
    )
