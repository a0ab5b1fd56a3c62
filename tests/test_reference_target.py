"""reference_target: every limit with exact statuses, the documented example, modes, threads."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference_target
from pytest_offload import (
    NdisStatus,
    NeighborOffloadState,
    NeighborOffloadStateConst,
    NetBufferList,
    Observation,
    OffloadBlockList,
    OffloadOperation,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    TargetChecker,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateDelegated,
    chain,
    linker,
    new_offload,
    placeholder,
)
from pytest_offload.harness import RecordingHost
from pytest_offload.strategies import malformed_tree_specs, scenarios
from reference_target import CompletionMode, ReferenceTarget
from reference_target._resources import OffloadedObject
from tests.support import IPV6, chain3, documented_example

if TYPE_CHECKING:
    from pytest_offload.generate import TreeSpec

S = NdisStatus
MODES = ["inline", "thread", "delayed"]


class Run:
    """A reference target with its host and checker; every initiate is also judged."""

    def __init__(self, **limits: Any) -> None:
        self.host = RecordingHost()
        self.target: ReferenceTarget = reference_target.create_target(self.host, **limits)
        self.checker = TargetChecker(self.target.capabilities)

    def offload(self, tree: OffloadBlockList) -> dict[str, object]:
        obs = self.observe(tree)
        report = self.checker.check(obs)
        assert report.violations == [], "\n".join(map(str, report.violations))
        assert obs.completion_image is not None
        return {obs.snapshot.path(i): s for i, s in enumerate(obs.completion_image.statuses)}

    def observe(self, tree: OffloadBlockList) -> Observation:
        return self.host.run_initiate(self.target, tree, capabilities=self.target.capabilities)


def tcp(**cached: int) -> TcpOffloadState:
    return TcpOffloadState(cached=TcpOffloadStateCached(**cached))


def neighbor(vlan: int = 0, mac: bytes = bytes(6)) -> NeighborOffloadState:
    return NeighborOffloadState(
        const=NeighborOffloadStateConst(vlan_id=vlan, dl_source_address=mac)
    )


def path(mtu: int = 1500, source: bytes = b"\xc0\x00\x02\x01") -> PathOffloadState:
    return PathOffloadState(
        const=PathOffloadStateConst(source_address=source),
        cached=PathOffloadStateCached(path_mtu=mtu),
    )


def roots(*blocks: OffloadBlockList) -> OffloadBlockList:
    head = chain(list(blocks))
    assert head is not None
    return head


N0, P00, T000 = "neighbor[0]", "neighbor[0].path[0]", "neighbor[0].path[0].tcp[0]"


def test_documented_example_is_reproduced_exactly() -> None:
    # Neighbor1 256 + Path1 256 + TCP1 1024 bytes fit; TCP2 finds 500 bytes left
    # (RESOURCES); Path2 is IPv6 on a target without IPv6 support (FAILURE).
    run = Run(memory_budget=256 + 256 + 1024 + 500, support_ipv6=False)
    statuses = run.offload(documented_example(path2=PathOffloadState(const=IPV6)))
    assert statuses == {
        "neighbor[0]": S.OFFLOAD_PARTIAL_SUCCESS,
        "neighbor[0].path[0]": S.OFFLOAD_PARTIAL_SUCCESS,
        "neighbor[0].path[0].tcp[0]": S.SUCCESS,
        "neighbor[0].path[0].tcp[1]": S.RESOURCES,
        "neighbor[0].path[1]": S.FAILURE,
        "neighbor[0].path[1].tcp[0]": S.FAILURE,
    }


def test_tcp_capacity_goes_to_the_first_connections_in_order() -> None:
    tree = new_offload(neighbor(), new_offload(path(), *(new_offload(tcp()) for _ in range(3))))
    statuses = Run(tcp_capacity=2).offload(tree)
    assert [statuses[f"{P00}.tcp[{k}]"] for k in range(3)] == [
        S.SUCCESS,
        S.SUCCESS,
        S.OFFLOAD_TCP_ENTRIES,
    ]
    assert statuses[P00] == S.OFFLOAD_PARTIAL_SUCCESS
    assert statuses[N0] == S.SUCCESS  # only immediate dependents count


def test_capacity_is_counted_across_initiates() -> None:
    run = Run(tcp_capacity=1)
    assert run.offload(chain3())[T000] == S.SUCCESS
    assert run.offload(chain3())[T000] == S.OFFLOAD_TCP_ENTRIES


def test_path_capacity() -> None:
    tree = new_offload(
        neighbor(),
        new_offload(path(), new_offload(tcp())),
        new_offload(path(), new_offload(tcp())),
    )
    statuses = Run(path_capacity=1).offload(tree)
    assert statuses["neighbor[0].path[1]"] == S.OFFLOAD_PATH_ENTRIES
    assert statuses["neighbor[0].path[1].tcp[0]"] == S.FAILURE
    assert statuses[N0] == S.OFFLOAD_PARTIAL_SUCCESS


def test_neighbor_capacity_fails_the_second_root_only() -> None:
    statuses = Run(neighbor_capacity=1).offload(roots(chain3(), chain3()))
    assert statuses[N0] == S.SUCCESS
    assert statuses["neighbor[1]"] == S.OFFLOAD_NEIGHBOR_ENTRIES
    assert statuses["neighbor[1].path[0].tcp[0]"] == S.FAILURE


def test_receive_window_and_path_mtu_limits() -> None:
    run = Run(max_initial_rcv_wnd=65535, max_path_mtu=1500)
    assert run.offload(chain3(tcp=tcp(initial_rcv_wnd=65535)))[T000] == S.SUCCESS
    assert run.offload(chain3(tcp=tcp(initial_rcv_wnd=65536)))[T000] == S.OFFLOAD_TCP_RCV_WINDOW
    out = run.offload(chain3(path=path(mtu=1501)))
    assert (out[P00], out[T000]) == (S.OFFLOAD_PATH_MTU, S.FAILURE)


@pytest.mark.parametrize(
    ("vlan", "status"),
    [
        (0, S.SUCCESS),
        (1, S.SUCCESS),
        (100, S.SUCCESS),
        (5, S.OFFLOAD_VLAN_MISMATCH),
        (4095, S.OFFLOAD_VLAN_MISMATCH),
    ],
)
def test_vlan_matching_against_the_interface(vlan: int, status: int) -> None:
    assert (
        Run(interface_vlan_ids=frozenset({1, 100})).offload(chain3(neighbor(vlan)))[N0] == status
    )


def test_without_interface_vlans_no_mismatch_but_vlan_entries_run_out() -> None:
    run = Run(interface_vlan_ids=frozenset({0}), vlan_capacity=1)
    out = run.offload(roots(chain3(neighbor(7)), chain3(neighbor(7)), chain3(neighbor(8))))
    assert [out[f"neighbor[{k}]"] for k in range(3)] == [
        S.SUCCESS,
        S.SUCCESS,
        S.OFFLOAD_VLAN_ENTRIES,
    ]


MAC_A, MAC_B = b"\x02\x00\x00\x00\x00\x0a", b"\x02\x00\x00\x00\x00\x0b"


def test_source_macs_need_configurable_macs_and_room() -> None:
    assert (
        Run(configurable_source_mac=False).offload(chain3(neighbor(mac=MAC_A)))[N0]
        == S.OFFLOAD_HW_ADDRESS_ENTRIES
    )
    out = Run(source_mac_capacity=1).offload(
        roots(
            chain3(neighbor(mac=MAC_A)), chain3(neighbor(mac=MAC_A)), chain3(neighbor(mac=MAC_B))
        )
    )
    assert [out[f"neighbor[{k}]"] for k in range(3)] == [
        S.SUCCESS,
        S.SUCCESS,
        S.OFFLOAD_HW_ADDRESS_ENTRIES,
    ]


def test_source_ip_address_entries() -> None:
    tree = new_offload(
        neighbor(),
        new_offload(path(source=b"\x0a\x00\x00\x01")),
        new_offload(path(source=b"\x0a\x00\x00\x01")),
        new_offload(path(source=b"\x0a\x00\x00\x02")),
    )
    out = Run(ip_address_capacity=1).offload(tree)
    assert [out[f"neighbor[0].path[{k}]"] for k in range(3)] == [
        S.SUCCESS,
        S.SUCCESS,
        S.OFFLOAD_IP_ADDRESS_ENTRIES,
    ]


def test_transmit_and_receive_buffer_pools() -> None:
    nbl = (NetBufferList(b"x"),)
    tree = new_offload(
        neighbor(), new_offload(path(), new_offload(tcp(), send_data=nbl), new_offload(tcp()))
    )
    out = Run(xmit_buffers=2).offload(tree)
    assert (out[T000], out["neighbor[0].path[0].tcp[1]"]) == (S.SUCCESS, S.OFFLOAD_TCP_XMIT_BUFFER)
    buffered = TcpOffloadState(
        delegated=TcpOffloadStateDelegated(buffered_data=(NetBufferList(b"rx"),))
    )
    assert Run(rcv_buffers=1).offload(chain3(tcp=buffered))[T000] == S.OFFLOAD_TCP_RCV_BUFFER


def test_buffered_receive_data_is_copied_or_the_connection_fails() -> None:
    data = b"y" * 4096
    buffered = TcpOffloadState(
        delegated=TcpOffloadStateDelegated(buffered_data=(NetBufferList(data),))
    )
    run = Run()
    tree = chain3(tcp=buffered)
    assert run.offload(tree)[T000] == S.SUCCESS
    obj = tree.dependent_block_list.dependent_block_list.miniport_offload_context.value  # type: ignore[union-attr]
    assert isinstance(obj, OffloadedObject)
    assert obj.buffered == data
    tight = Run(memory_budget=256 + 256 + 1024 + 100)
    assert tight.offload(chain3(tcp=buffered))[T000] == S.FAILURE


def test_connection_rejection_policy_depends_on_ndis_version() -> None:
    closing = TcpOffloadState(delegated=TcpOffloadStateDelegated(state=TcpConnectionState.CLOSING))
    assert Run().offload(chain3(tcp=closing))[T000] == S.OFFLOAD_CONNECTION_REJECTED
    assert Run(ndis_version=(6, 1)).offload(chain3(tcp=closing))[T000] == S.FAILURE
    waiting = TcpOffloadState(
        delegated=TcpOffloadStateDelegated(state=TcpConnectionState.TIME_WAIT)
    )
    assert Run().offload(chain3(tcp=waiting))[T000] == S.FAILURE


def test_linkers_resolve_against_earlier_offloads() -> None:
    run = Run()
    first = chain3()
    run.offload(first)
    path_ctx = first.dependent_block_list.miniport_offload_context.value  # type: ignore[union-attr]
    second = placeholder(
        linker(path_ctx, OffloadStateType.IP4, new_offload(tcp()), new_offload(tcp()))
    )
    out = run.offload(second)
    assert out == {
        N0: S.SUCCESS,
        P00: S.SUCCESS,
        T000: S.SUCCESS,
        "neighbor[0].path[0].tcp[1]": S.SUCCESS,
    }
    tcp_obj = second.dependent_block_list.dependent_block_list.miniport_offload_context.value  # type: ignore[union-attr]
    assert isinstance(tcp_obj, OffloadedObject)
    assert tcp_obj.parent is path_ctx  # the internal inverted tree (domain.md 1.6)


def test_unknown_linker_fails_cleanly_with_its_subtree() -> None:
    out = Run().offload(placeholder(linker(object(), OffloadStateType.IP4, new_offload(tcp()))))
    assert out == {N0: S.SUCCESS, P00: S.FAILURE, T000: S.FAILURE}


def test_linker_of_the_wrong_layer_fails() -> None:
    run = Run()
    first = chain3()
    run.offload(first)
    tcp_ctx = first.dependent_block_list.dependent_block_list.miniport_offload_context.value  # type: ignore[union-attr]
    out = run.offload(placeholder(linker(tcp_ctx, OffloadStateType.IP4, new_offload(tcp()))))
    assert out[P00] == S.FAILURE


def test_an_initiate_only_target_completes_send_data_after_the_initiate() -> None:
    nbls = (NetBufferList(b"a"), NetBufferList(b"b"))
    run = Run(operations=frozenset({OffloadOperation.INITIATE}))
    run.offload(new_offload(neighbor(), new_offload(path(), new_offload(tcp(), send_data=nbls))))
    assert run.host.send_completed() == nbls


def test_a_lifecycle_target_keeps_send_data_until_the_terminate() -> None:
    """No segment reaches a target under the suite (lifecycle.md H9): nothing is
    acknowledged, so the send data stays outstanding for the terminate to hand back."""
    nbls = (NetBufferList(b"a"), NetBufferList(b"b"))
    run = Run()
    run.offload(new_offload(neighbor(), new_offload(path(), new_offload(tcp(), send_data=nbls))))
    assert run.host.send_completed() == ()


def test_contexts_are_unique_objects() -> None:
    tree = new_offload(neighbor(), new_offload(path(), new_offload(tcp()), new_offload(tcp())))
    run = Run()
    run.offload(tree)
    contexts = [b.miniport_offload_context.value for b in (tree, tree.dependent_block_list)]  # type: ignore[union-attr]
    contexts += [b.miniport_offload_context.value for b in tree.dependent_block_list.dependents()]  # type: ignore[union-attr]
    assert len({id(c) for c in contexts}) == 4


@pytest.mark.parametrize("mode", MODES)
def test_completion_modes(mode: str) -> None:
    run = Run(completion=mode)
    obs = run.observe(chain3())
    (completion,) = obs.completions
    assert completion.inside_call is (mode == "inline")
    assert completion.matches_root
    assert run.checker.check(obs).violations == []


def test_create_target_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="completion='later'"):
        reference_target.create_target(RecordingHost(), completion="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="xmit_buffers=-1"):
        reference_target.create_target(RecordingHost(), xmit_buffers=-1)
    with pytest.raises(ValueError, match="tcp_connection_offload_capacity=-3"):
        reference_target.create_target(RecordingHost(), tcp_capacity=-3)


def test_defaults_offload_the_smallest_tree_in_full() -> None:
    assert set(Run().offload(chain3()).values()) == {S.SUCCESS}


@pytest.mark.parametrize("mode", ["inline", "thread"])
def test_concurrent_initiates_keep_tables_consistent(mode: str) -> None:
    run = Run(
        completion=mode,
        tcp_capacity=5,
        ip_address_capacity=64,
        neighbor_capacity=None,
        path_capacity=None,
    )
    trees = [
        new_offload(
            neighbor(),
            new_offload(path(source=bytes([10, 0, 0, k])), new_offload(tcp()), new_offload(tcp())),
        )
        for k in range(8)
    ]
    pending = []
    barrier = threading.Barrier(len(trees))

    def start(tree: OffloadBlockList) -> None:
        barrier.wait()
        pending.append(
            run.host.start_initiate(run.target, tree, capabilities=run.target.capabilities)
        )

    threads = [threading.Thread(target=start, args=(t,)) for t in trees]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    observations = [p.finish() for p in pending]
    reports = run.checker.check_batch(observations)
    assert all(r.violations == [] for r in reports), [
        str(v) for r in reports for v in r.violations
    ]
    tcp_blocks = [b for t in trees for b in t.dependent_block_list.dependents()]  # type: ignore[union-attr]
    offloaded_tcp = len([b for b in tcp_blocks if b.status == S.SUCCESS])
    assert offloaded_tcp == 5 == run.target.pools.counts["tcp"]


CAPS = reference_target.create_target(RecordingHost()).capabilities


def _play(specs: tuple[TreeSpec, ...], mode: str) -> None:
    run = Run(completion=mode, delay=0.001)
    offloaded: dict[str, list[object]] = {"neighbor": [], "path": [], "tcp": []}
    unknown = object()

    def resolve(layer: str, index: int) -> object:
        pool = offloaded[layer]
        return pool[index % len(pool)] if pool else unknown

    for spec in specs:
        obs = run.observe(spec.build(resolve))
        report = run.checker.check(obs)
        assert report.violations == [], "\n".join(map(str, report.violations))
        for entry in run.checker.ledger.entries.values():
            if entry.context not in offloaded[entry.layer]:
                offloaded[entry.layer].append(entry.context)


@settings(max_examples=40, deadline=None)
@given(scenarios(capabilities=CAPS), st.sampled_from(MODES))
def test_the_checker_finds_nothing_on_generated_scenarios_in_every_mode(
    specs: tuple[TreeSpec, ...], mode: str
) -> None:
    _play(specs, mode)


@settings(max_examples=40, deadline=None)
@given(malformed_tree_specs(capabilities=CAPS), st.sampled_from(MODES))
def test_malformed_trees_complete_with_failure_never_an_exception(
    spec: TreeSpec, mode: str
) -> None:
    _play((spec,), mode)


def test_trees_in_flight_together_are_judged_as_one_batch() -> None:
    from pytest_offload import InFlight, run_scenario
    from pytest_offload.strategies import tree_specs

    @settings(max_examples=20, deadline=None)
    @given(
        st.lists(tree_specs(benign=True, capabilities=CAPS), min_size=2, max_size=3),
        st.sampled_from(MODES),
    )
    def batch(trees: list[TreeSpec], mode: CompletionMode) -> None:
        outcome = run_scenario(
            lambda host: reference_target.create_target(host, completion=mode, delay=0.001),
            [InFlight(tuple(trees))],
        )
        assert len(outcome.reports) == len(trees)
        assert all(r.violations == [] for r in outcome.reports)
        assert "in flight together" in outcome.reports[0].observation.label

    batch()
