"""Every rule of the catalogue: a hand-built case it passes and one it catches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from pytest_offload import (
    CATALOGUE,
    CheckReport,
    Grade,
    NdisStatus,
    NeighborOffloadState,
    NeighborOffloadStateConst,
    NetBufferList,
    OffloadBlockList,
    OffloadCapabilities,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    TargetChecker,
    TcpOffloadState,
    TcpOffloadStateCached,
    chain,
    linker,
    new_offload,
    placeholder,
)
from pytest_offload.catalogue import LIFECYCLE_ORDER
from pytest_offload.harness import RecordingHost
from tests.support import (
    CAPS,
    DOCUMENTED,
    N1,
    P1,
    P2,
    T1,
    T2,
    T3,
    Behaviour,
    FnTarget,
    chain3,
    documented_example,
    judge,
    observe,
    write,
)

if TYPE_CHECKING:
    from collections.abc import Callable

S = NdisStatus
OK3 = {
    "neighbor[0]": S.SUCCESS,
    "neighbor[0].path[0]": S.SUCCESS,
    "neighbor[0].path[0].tcp[0]": S.SUCCESS,
}


def then(first: Behaviour, second: Callable[[RecordingHost, OffloadBlockList], None]) -> Behaviour:
    def behave(host: RecordingHost, root: OffloadBlockList) -> None:
        first(host, root)
        second(host, root)

    return behave


def documented(**changes: object) -> dict[str, object]:
    statuses: dict[str, object] = dict(DOCUMENTED)
    statuses.update({_PATHS[k]: v for k, v in changes.items()})
    return statuses


_PATHS = {"N1": N1, "P1": P1, "T1": T1, "T2": T2, "P2": P2, "T3": T3}


# -- cases: each returns the report of one (or the last of several) initiates ---------------


def example_ok() -> CheckReport:
    return judge(documented_example(), write(DOCUMENTED))


def chain_ok() -> CheckReport:
    return judge(chain3(), write(OK3))


def never_completes() -> CheckReport:
    return judge(documented_example(), write(DOCUMENTED, complete=False), timeout=0.2)


def completes_twice() -> CheckReport:
    return judge(
        documented_example(), then(write(DOCUMENTED), lambda h, r: h.initiate_offload_complete(r))
    )


def completes_with_other_root() -> CheckReport:
    def behave(host: RecordingHost, root: OffloadBlockList) -> None:
        write(DOCUMENTED, complete=False)(host, root)
        assert root.dependent_block_list is not None
        host.initiate_offload_complete(root.dependent_block_list)

    return judge(documented_example(), behave)


def raises_after_completing() -> CheckReport:
    def boom(host: RecordingHost, root: OffloadBlockList) -> None:
        raise RuntimeError("firmware said no")

    return judge(documented_example(), then(write(DOCUMENTED), boom))


def leaves_pending() -> CheckReport:
    return judge(documented_example(), write(documented(T3=S.PENDING)))


def writes_unknown_code() -> CheckReport:
    return judge(documented_example(), write(documented(T3=0x12345678)))


def writes_non_integer() -> CheckReport:
    return judge(documented_example(), write(documented(T3="FAILURE")))


def writes_related_code() -> CheckReport:
    return judge(documented_example(), write(documented(T3=S.UPLOAD_IN_PROGRESS)))


def uses_target_fields() -> CheckReport:
    def scribble(host: RecordingHost, root: OffloadBlockList) -> None:
        root.miniport_reserved[0] = "queue link"
        root.scratch[1] = 42

    return judge(documented_example(), then(scribble, write(DOCUMENTED)))


def writes_protocol_reserved() -> CheckReport:
    def scribble(host: RecordingHost, root: OffloadBlockList) -> None:
        root.protocol_reserved[0] = "mine now"

    return judge(documented_example(), then(scribble, write(DOCUMENTED)))


def relinks_tree() -> CheckReport:
    def relink(host: RecordingHost, root: OffloadBlockList) -> None:
        write(DOCUMENTED, complete=False)(host, root)
        assert root.dependent_block_list is not None
        root.dependent_block_list.next_block = None
        host.initiate_offload_complete(root)

    return judge(documented_example(), relink)


def writes_after_completing() -> CheckReport:
    def late(host: RecordingHost, root: OffloadBlockList) -> None:
        root.status = S.SUCCESS

    return judge(documented_example(), then(write(DOCUMENTED), late))


def success_despite_failed_dependent() -> CheckReport:
    return judge(documented_example(), write(documented(N1=S.SUCCESS)))


def partial_on_leaf() -> CheckReport:
    return judge(documented_example(), write(documented(T1=S.OFFLOAD_PARTIAL_SUCCESS)))


def partial_without_failed_dependent() -> CheckReport:
    return judge(chain3(), write({**OK3, "neighbor[0].path[0]": S.OFFLOAD_PARTIAL_SUCCESS}))


def _grandchild_tree() -> OffloadBlockList:
    return new_offload(
        NeighborOffloadState(),
        new_offload(
            PathOffloadState(), new_offload(TcpOffloadState()), new_offload(TcpOffloadState())
        ),
    )


def grandchild_failure_ok() -> CheckReport:
    statuses = {N1: S.SUCCESS, P1: S.OFFLOAD_PARTIAL_SUCCESS, T1: S.SUCCESS, T2: S.RESOURCES}
    return judge(_grandchild_tree(), write(statuses))


def grandchild_failure_propagated() -> CheckReport:
    statuses = {
        N1: S.OFFLOAD_PARTIAL_SUCCESS,
        P1: S.OFFLOAD_PARTIAL_SUCCESS,
        T1: S.SUCCESS,
        T2: S.RESOURCES,
    }
    return judge(_grandchild_tree(), write(statuses))


def _with_linker(second_statuses: dict[str, object], *, known: bool = True) -> CheckReport:
    """First initiate offloads a chain; the second hangs two TCPs under its path."""
    checker = TargetChecker(CAPS)
    host = RecordingHost()
    first = chain3()
    checker.check(observe(first, write(OK3), host=host))
    path_context = first.dependent_block_list.miniport_offload_context.value if known else object()  # type: ignore[union-attr]
    second = placeholder(
        linker(
            path_context,
            OffloadStateType.IP4,
            new_offload(TcpOffloadState()),
            new_offload(TcpOffloadState()),
        )
    )
    return checker.check(observe(second, write(second_statuses), host=host))


LN, LT0, LT1 = "neighbor[0]", "neighbor[0].path[0]", "neighbor[0].path[0].tcp[0]"
LT2 = "neighbor[0].path[0].tcp[1]"


def linker_ok() -> CheckReport:
    return _with_linker(
        {LN: S.SUCCESS, LT0: S.OFFLOAD_PARTIAL_SUCCESS, LT1: S.SUCCESS, LT2: S.RESOURCES}
    )


def linker_success_with_failed_dependent() -> CheckReport:
    return _with_linker({LN: S.SUCCESS, LT0: S.SUCCESS, LT1: S.SUCCESS, LT2: S.RESOURCES})


def linker_partial_when_all_failed() -> CheckReport:
    return _with_linker(
        {LN: S.SUCCESS, LT0: S.OFFLOAD_PARTIAL_SUCCESS, LT1: S.RESOURCES, LT2: S.RESOURCES}
    )


def unknown_linker_fails_cleanly() -> CheckReport:
    return _with_linker(
        {LN: S.SUCCESS, LT0: S.FAILURE, LT1: S.FAILURE, LT2: S.FAILURE}, known=False
    )


def unknown_linker_dependents_with_own_codes() -> CheckReport:
    return _with_linker(
        {LN: S.SUCCESS, LT0: S.FAILURE, LT1: S.FAILURE, LT2: S.RESOURCES}, known=False
    )


def unknown_linker_trusted() -> CheckReport:
    return _with_linker(
        {LN: S.SUCCESS, LT0: S.SUCCESS, LT1: S.SUCCESS, LT2: S.SUCCESS}, known=False
    )


def placeholder_failed() -> CheckReport:
    return _with_linker({LN: S.FAILURE, LT0: S.SUCCESS, LT1: S.SUCCESS, LT2: S.SUCCESS})


def offloaded_under_failed_path() -> CheckReport:
    return judge(documented_example(), write(documented(T3=S.SUCCESS)))


def own_code_under_failed_path() -> CheckReport:
    return judge(documented_example(), write(documented(T3=S.RESOURCES)))


VLAN_CAPS = OffloadCapabilities(
    tcp_connection_offload_capacity=4, interface_vlan_ids=frozenset({10})
)


def _siblings() -> OffloadBlockList:
    bad = new_offload(
        NeighborOffloadState(const=NeighborOffloadStateConst(vlan_id=20)),
        new_offload(PathOffloadState(), new_offload(TcpOffloadState())),
    )
    good = chain3()
    head = chain([bad, good])
    assert head is not None
    return head


SIB = {
    "neighbor[0]": S.OFFLOAD_VLAN_MISMATCH,
    "neighbor[0].path[0]": S.FAILURE,
    "neighbor[0].path[0].tcp[0]": S.FAILURE,
    "neighbor[1]": S.SUCCESS,
    "neighbor[1].path[0]": S.SUCCESS,
    "neighbor[1].path[0].tcp[0]": S.SUCCESS,
}


def root_sibling_offloaded() -> CheckReport:
    return judge(_siblings(), write(SIB), VLAN_CAPS)


def root_sibling_abandoned() -> CheckReport:
    statuses = {k: (v if k == "neighbor[0]" else S.FAILURE) for k, v in SIB.items()}
    return judge(_siblings(), write(statuses), VLAN_CAPS)


def no_context_on_success() -> CheckReport:
    return judge(documented_example(), write(DOCUMENTED, contexts=False))


def context_on_failure() -> CheckReport:
    def leak(host: RecordingHost, root: OffloadBlockList) -> None:
        write(DOCUMENTED, complete=False)(host, root)
        tcp2 = root.dependent_block_list.dependent_block_list.next_block  # type: ignore[union-attr]
        tcp2.miniport_offload_context.value = "half-built"  # type: ignore[union-attr]
        host.initiate_offload_complete(root)

    return judge(documented_example(), leak)


def same_context_twice() -> CheckReport:
    def share(host: RecordingHost, root: OffloadBlockList) -> None:
        write(DOCUMENTED, complete=False)(host, root)
        root.miniport_offload_context.value = 7  # type: ignore[union-attr]
        root.dependent_block_list.miniport_offload_context.value = 7  # type: ignore[union-attr]
        host.initiate_offload_complete(root)

    return judge(documented_example(), share)


def context_reused_across_initiates() -> CheckReport:
    checker = TargetChecker(CAPS)
    host = RecordingHost()

    def fixed(host: RecordingHost, root: OffloadBlockList) -> None:
        write(OK3, complete=False)(host, root)
        root.miniport_offload_context.value = "ctx-1"  # type: ignore[union-attr]
        host.initiate_offload_complete(root)

    checker.check(observe(chain3(), fixed, host=host))
    return checker.check(observe(chain3(), fixed, host=host))


def _send_tree() -> tuple[OffloadBlockList, tuple[NetBufferList, ...]]:
    nbls = (NetBufferList(b"abc"), NetBufferList(b"defg"))
    tree = new_offload(
        NeighborOffloadState(),
        new_offload(PathOffloadState(), new_offload(TcpOffloadState(), send_data=nbls)),
    )
    return tree, nbls


SEND_FAILED = {
    **OK3,
    "neighbor[0].path[0]": S.OFFLOAD_PARTIAL_SUCCESS,
    "neighbor[0].path[0].tcp[0]": S.OFFLOAD_TCP_XMIT_BUFFER,
}


def send_data_left_alone() -> CheckReport:
    tree, _ = _send_tree()
    return judge(tree, write(SEND_FAILED))


def send_data_completed_on_failure() -> CheckReport:
    tree, nbls = _send_tree()
    return judge(tree, then(write(SEND_FAILED), lambda h, r: h.tcp_offload_send_complete(nbls)))


def send_data_status_changed_on_failure() -> CheckReport:
    tree, nbls = _send_tree()

    def touch(host: RecordingHost, root: OffloadBlockList) -> None:
        nbls[0].status = S.REQUEST_ABORTED

    return judge(tree, then(touch, write(SEND_FAILED)))


def tcp_code_on_neighbor() -> CheckReport:
    statuses = {
        N1: S.OFFLOAD_TCP_ENTRIES,
        "neighbor[0].path[0]": S.FAILURE,
        "neighbor[0].path[0].tcp[0]": S.FAILURE,
    }
    return judge(chain3(), write(statuses))


def tcp_code_on_tcp() -> CheckReport:
    return judge(chain3(), write({**SEND_FAILED}))


def _mac_tree(mac: bytes) -> OffloadBlockList:
    return chain3(NeighborOffloadState(const=NeighborOffloadStateConst(dl_source_address=mac)))


FAILED_NEIGHBOR = {"neighbor[0].path[0]": S.FAILURE, "neighbor[0].path[0].tcp[0]": S.FAILURE}


def hw_address_with_mac() -> CheckReport:
    return judge(
        _mac_tree(b"\x02\x11\x22\x33\x44\x55"),
        write({N1: S.OFFLOAD_HW_ADDRESS_ENTRIES, **FAILED_NEIGHBOR}),
    )


def hw_address_without_mac() -> CheckReport:
    return judge(_mac_tree(bytes(6)), write({N1: S.OFFLOAD_HW_ADDRESS_ENTRIES, **FAILED_NEIGHBOR}))


def _vlan_case(vlan: int, caps: OffloadCapabilities) -> CheckReport:
    tree = chain3(NeighborOffloadState(const=NeighborOffloadStateConst(vlan_id=vlan)))
    return judge(tree, write({N1: S.OFFLOAD_VLAN_MISMATCH, **FAILED_NEIGHBOR}), caps)


NO_VLAN_CAPS = OffloadCapabilities(
    tcp_connection_offload_capacity=4, interface_vlan_ids=frozenset({0})
)


def _tcp_failed(code: int) -> dict[str, object]:
    return {
        N1: S.SUCCESS,
        "neighbor[0].path[0]": S.OFFLOAD_PARTIAL_SUCCESS,
        "neighbor[0].path[0].tcp[0]": code,
    }


WIN_CAPS = OffloadCapabilities(tcp_connection_offload_capacity=4, max_initial_rcv_wnd=65535)


def _window(wnd: int) -> CheckReport:
    tree = chain3(tcp=TcpOffloadState(cached=TcpOffloadStateCached(initial_rcv_wnd=wnd)))
    return judge(tree, write(_tcp_failed(S.OFFLOAD_TCP_RCV_WINDOW)), WIN_CAPS)


MTU_CAPS = OffloadCapabilities(tcp_connection_offload_capacity=4, max_path_mtu=1500)


def _mtu(mtu: int) -> CheckReport:
    tree = chain3(path=PathOffloadState(cached=PathOffloadStateCached(path_mtu=mtu)))
    statuses = {
        N1: S.OFFLOAD_PARTIAL_SUCCESS,
        "neighbor[0].path[0]": S.OFFLOAD_PATH_MTU,
        "neighbor[0].path[0].tcp[0]": S.FAILURE,
    }
    return judge(tree, write(statuses), MTU_CAPS)


def _rejected(version: tuple[int, int]) -> CheckReport:
    caps = OffloadCapabilities(tcp_connection_offload_capacity=4, ndis_version=version)
    return judge(chain3(), write(_tcp_failed(S.OFFLOAD_CONNECTION_REJECTED)), caps)


def _old_ndis_ok() -> CheckReport:
    caps = OffloadCapabilities(tcp_connection_offload_capacity=4, ndis_version=(6, 1))
    return judge(chain3(), write(OK3), caps)


CAP1 = OffloadCapabilities(tcp_connection_offload_capacity=1)


def over_capacity_in_one_tree() -> CheckReport:
    return judge(
        _grandchild_tree(),
        write({N1: S.SUCCESS, P1: S.SUCCESS, T1: S.SUCCESS, T2: S.SUCCESS}),
        CAP1,
    )


def over_capacity_across_initiates() -> CheckReport:
    checker = TargetChecker(CAP1)
    host = RecordingHost()
    checker.check(observe(chain3(), write(OK3), CAP1, host=host))
    return checker.check(observe(chain3(), write(OK3), CAP1, host=host))


def at_capacity() -> CheckReport:
    statuses = {
        N1: S.SUCCESS,
        P1: S.OFFLOAD_PARTIAL_SUCCESS,
        T1: S.SUCCESS,
        T2: S.OFFLOAD_TCP_ENTRIES,
    }
    return judge(_grandchild_tree(), write(statuses), CAP1)


def entries_before_capacity() -> CheckReport:
    statuses = {
        N1: S.SUCCESS,
        P1: S.OFFLOAD_PARTIAL_SUCCESS,
        T1: S.SUCCESS,
        T2: S.OFFLOAD_TCP_ENTRIES,
    }
    return judge(_grandchild_tree(), write(statuses))


def fails_everything() -> CheckReport:
    return judge(chain3(), write({k: S.FAILURE for k in OK3}))


def _two_paths() -> OffloadBlockList:
    return new_offload(
        NeighborOffloadState(),
        new_offload(PathOffloadState(), new_offload(TcpOffloadState())),
        new_offload(PathOffloadState(), new_offload(TcpOffloadState())),
    )


Q1, Q2 = "neighbor[0].path[0]", "neighbor[0].path[1]"
QT1, QT2 = "neighbor[0].path[0].tcp[0]", "neighbor[0].path[1].tcp[0]"


def depth_first_in_order() -> CheckReport:
    statuses = {
        N1: S.SUCCESS,
        Q1: S.SUCCESS,
        QT1: S.SUCCESS,
        Q2: S.OFFLOAD_PARTIAL_SUCCESS,
        QT2: S.OFFLOAD_TCP_ENTRIES,
    }
    return judge(_two_paths(), write(statuses), CAP1)


def depth_first_later_path_first() -> CheckReport:
    statuses = {
        N1: S.SUCCESS,
        Q1: S.OFFLOAD_PARTIAL_SUCCESS,
        QT1: S.OFFLOAD_TCP_ENTRIES,
        Q2: S.SUCCESS,
        QT2: S.SUCCESS,
    }
    return judge(_two_paths(), write(statuses), CAP1)


def capacity_out_of_order() -> CheckReport:
    statuses = {
        N1: S.SUCCESS,
        P1: S.OFFLOAD_PARTIAL_SUCCESS,
        T1: S.OFFLOAD_TCP_ENTRIES,
        T2: S.SUCCESS,
    }
    return judge(_grandchild_tree(), write(statuses), CAP1)


def _malformed_tree() -> OffloadBlockList:
    return new_offload(
        NeighborOffloadState(),
        new_offload(
            PathOffloadState(), new_offload(TcpOffloadState(), new_offload(TcpOffloadState()))
        ),
    )


MAL = (
    "neighbor[0]",
    "neighbor[0].path[0]",
    "neighbor[0].path[0].tcp[0]",
    "neighbor[0].path[0].tcp[0].dependent[0]",
)


def malformed_failed() -> CheckReport:
    statuses = dict(
        zip(MAL, (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS, S.FAILURE, S.FAILURE), strict=True)
    )
    return judge(_malformed_tree(), write(statuses))


def malformed_offloaded() -> CheckReport:
    statuses = dict.fromkeys(MAL, S.SUCCESS)
    return judge(_malformed_tree(), write(statuses))


class _WireTarget(FnTarget):
    """A hand-built stand-in for a process target: judged as one that crossed a wire."""

    offload_transport = "process"


def _over_the_wire(behaviour: Behaviour) -> CheckReport:
    host = RecordingHost()
    target = _WireTarget(host, behaviour)
    observation = host.run_initiate(target, documented_example(), capabilities=CAPS)
    return TargetChecker(CAPS).check(observation)


def wire_clean() -> CheckReport:
    return _over_the_wire(write(DOCUMENTED))


def wire_noise() -> CheckReport:
    def noisy(host: RecordingHost, root: OffloadBlockList) -> None:
        pending = host.pending_for(root)
        assert pending is not None
        pending.wire_error("invalid JSON: 'offloading 6 blocks'", answered=False)
        write(DOCUMENTED)(host, root)

    return _over_the_wire(noisy)


def wire_garbage_instead_of_completion() -> CheckReport:
    def garbage(host: RecordingHost, root: OffloadBlockList) -> None:
        pending = host.pending_for(root)
        assert pending is not None
        pending.wire_error("initiate_offload_complete: Expected `int`", answered=True)

    return _over_the_wire(garbage)


@dataclass(frozen=True)
class Case:
    rule: str
    case: Callable[[], CheckReport]
    caught: bool


CASES = [
    Case("INI-COMPLETE-ONCE", example_ok, False),
    Case("INI-COMPLETE-ONCE", never_completes, True),
    Case("INI-COMPLETE-ONCE", completes_twice, True),
    Case("INI-COMPLETE-ROOT", example_ok, False),
    Case("INI-COMPLETE-ROOT", completes_with_other_root, True),
    Case("INI-NO-RAISE", example_ok, False),
    Case("INI-NO-RAISE", raises_after_completing, True),
    Case("INI-STATUS-WRITTEN", example_ok, False),
    Case("INI-STATUS-WRITTEN", leaves_pending, True),
    Case("INI-STATUS-ALLOWED", example_ok, False),
    Case("INI-STATUS-ALLOWED", writes_unknown_code, True),
    Case("INI-STATUS-ALLOWED", writes_non_integer, True),
    Case("INI-STATUS-ALLOWED", writes_related_code, True),
    Case("INI-HOST-FIELDS-INTACT", uses_target_fields, False),
    Case("INI-HOST-FIELDS-INTACT", writes_protocol_reserved, True),
    Case("INI-HOST-FIELDS-INTACT", relinks_tree, True),
    Case("INI-NO-TOUCH-AFTER-COMPLETE", example_ok, False),
    Case("INI-NO-TOUCH-AFTER-COMPLETE", writes_after_completing, True),
    Case("INI-SUCCESS-ALL-DEPENDENTS", chain_ok, False),
    Case("INI-SUCCESS-ALL-DEPENDENTS", success_despite_failed_dependent, True),
    Case("INI-PARTIAL-NEEDS-FAILED-DEPENDENT", example_ok, False),
    Case("INI-PARTIAL-NEEDS-FAILED-DEPENDENT", partial_on_leaf, True),
    Case("INI-PARTIAL-NEEDS-FAILED-DEPENDENT", partial_without_failed_dependent, True),
    Case("INI-PARTIAL-IS-OFFLOADED", grandchild_failure_ok, False),
    Case("INI-PARTIAL-IS-OFFLOADED", grandchild_failure_propagated, True),
    Case("INI-LINKER-STATUS", linker_ok, False),
    Case("INI-LINKER-STATUS", linker_success_with_failed_dependent, True),
    Case("INI-LINKER-STATUS", linker_partial_when_all_failed, True),
    Case("INI-PLACEHOLDER-SUCCESS", linker_ok, False),
    Case("INI-PLACEHOLDER-SUCCESS", placeholder_failed, True),
    Case("INI-FAILED-SUBTREE", example_ok, False),
    Case("INI-FAILED-SUBTREE", offloaded_under_failed_path, True),
    Case("INI-FAILED-SUBTREE-FAILURE", example_ok, False),
    Case("INI-FAILED-SUBTREE-FAILURE", own_code_under_failed_path, True),
    Case("INI-FAILED-SUBTREE-FAILURE", unknown_linker_dependents_with_own_codes, True),
    Case("INI-ROOT-SIBLINGS", root_sibling_offloaded, False),
    Case("INI-ROOT-SIBLINGS", root_sibling_abandoned, True),
    Case("INI-CONTEXT-ON-SUCCESS", example_ok, False),
    Case("INI-CONTEXT-ON-SUCCESS", no_context_on_success, True),
    Case("INI-NO-CONTEXT-ON-FAILURE", example_ok, False),
    Case("INI-NO-CONTEXT-ON-FAILURE", context_on_failure, True),
    Case("INI-CONTEXT-UNIQUE", example_ok, False),
    Case("INI-CONTEXT-UNIQUE", same_context_twice, True),
    Case("INI-CONTEXT-UNIQUE", context_reused_across_initiates, True),
    Case("INI-SEND-DATA-KEPT-ON-FAILURE", send_data_left_alone, False),
    Case("INI-SEND-DATA-KEPT-ON-FAILURE", send_data_completed_on_failure, True),
    Case("INI-SEND-DATA-KEPT-ON-FAILURE", send_data_status_changed_on_failure, True),
    Case("INI-CODE-LAYER", tcp_code_on_tcp, False),
    Case("INI-CODE-LAYER", tcp_code_on_neighbor, True),
    Case("INI-HW-ADDRESS-CAUSE", chain_ok, False),
    Case("INI-HW-ADDRESS-CAUSE", hw_address_without_mac, True),
    Case("INI-VLAN-MISMATCH-CAUSE", chain_ok, False),
    Case("INI-VLAN-MISMATCH-CAUSE", lambda: _vlan_case(0, VLAN_CAPS), True),
    Case("INI-VLAN-MISMATCH-CAUSE", lambda: _vlan_case(10, VLAN_CAPS), True),
    Case("INI-VLAN-MISMATCH-CAUSE", lambda: _vlan_case(20, NO_VLAN_CAPS), True),
    Case("INI-RCV-WINDOW-CAUSE", chain_ok, False),
    Case("INI-RCV-WINDOW-CAUSE", lambda: _window(65535), True),
    Case("INI-PATH-MTU-CAUSE", chain_ok, False),
    Case("INI-PATH-MTU-CAUSE", lambda: _mtu(1500), True),
    Case("INI-CONNECTION-REJECTED-VERSION", _old_ndis_ok, False),
    Case("INI-CONNECTION-REJECTED-VERSION", lambda: _rejected((6, 1)), True),
    Case("INI-CAPACITY", at_capacity, False),
    Case("INI-CAPACITY", over_capacity_in_one_tree, True),
    Case("INI-CAPACITY", over_capacity_across_initiates, True),
    Case("INI-ENTRIES-CAUSE", chain_ok, False),
    Case("INI-ENTRIES-CAUSE", entries_before_capacity, True),
    Case("INI-ADVERTISED-WORKS", chain_ok, False),
    Case("INI-ADVERTISED-WORKS", fails_everything, True),
    Case("INI-DEPTH-FIRST", depth_first_in_order, False),
    Case("INI-DEPTH-FIRST", depth_first_later_path_first, True),
    Case("INI-MALFORMED-TREE", malformed_failed, False),
    Case("INI-MALFORMED-TREE", malformed_offloaded, True),
    Case("INI-UNKNOWN-LINKER", unknown_linker_fails_cleanly, False),
    Case("INI-UNKNOWN-LINKER", unknown_linker_trusted, True),
    Case("WIRE-PROTOCOL", wire_clean, False),
    Case("WIRE-PROTOCOL", wire_noise, True),
    Case("WIRE-PROTOCOL", wire_garbage_instead_of_completion, True),
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c.rule}-{'caught' if c.caught else 'passes'}-{c.case.__name__}" for c in CASES],
)
def test_rule_on_hand_built_case(case: Case) -> None:
    report = case.case()
    outcome = report.outcomes[case.rule]
    assert outcome.exercised, f"{case.rule}: precondition not reached by {case.case.__name__}"
    found = [v for v in report.violations if v.rule_id == case.rule]
    if case.caught:
        assert found, f"{case.rule} did not catch {case.case.__name__}: {report.violations}"
        assert all(v.grade is CATALOGUE[case.rule].grade for v in found)
    else:
        assert not found, "\n".join(map(str, found))


def test_every_rule_has_a_passing_and_a_caught_case() -> None:
    # The lifecycle rules have theirs in tests/test_lifecycle_rules.py (programs).
    passing = {c.rule for c in CASES if not c.caught}
    caught = {c.rule for c in CASES if c.caught}
    assert passing == caught == set(CATALOGUE.ids()) - set(LIFECYCLE_ORDER)


def test_garbage_instead_of_a_completion_is_one_finding_of_the_wire() -> None:
    """One defect, one finding: the completion that never came is not INI-COMPLETE-ONCE's
    too when the wire carried garbage in its place (and the host did not wait a timeout)."""
    report = wire_garbage_instead_of_completion()
    assert {v.rule_id for v in report.violations} == {"WIRE-PROTOCOL"}
    assert report.observation.completions == ()


def test_an_in_process_target_gives_the_wire_rule_no_opportunity() -> None:
    assert not example_ok().outcomes["WIRE-PROTOCOL"].exercised


def test_conformant_cases_have_no_violation_of_any_rule() -> None:
    for case in (
        example_ok,
        chain_ok,
        linker_ok,
        root_sibling_offloaded,
        at_capacity,
        malformed_failed,
    ):
        assert case().violations == [], case.__name__


def test_violation_names_rule_grade_path_observed_and_expected() -> None:
    (violation,) = [
        v
        for v in success_despite_failed_dependent().violations
        if v.rule_id == "INI-SUCCESS-ALL-DEPENDENTS"
    ]
    assert violation.grade is Grade.MUST
    assert violation.path == "neighbor[0]"
    assert violation.observed == "SUCCESS"
    assert violation.expected == "OFFLOAD_PARTIAL_SUCCESS"
    assert "neighbor[0].path[1]" in violation.detail
    assert str(violation).startswith(
        "INI-SUCCESS-ALL-DEPENDENTS (MUST) at neighbor[0] in initiate"
    )


def test_unknown_status_values_are_reported_not_crashed_on() -> None:
    report = writes_non_integer()
    (violation,) = [v for v in report.violations if v.rule_id == "INI-STATUS-ALLOWED"]
    assert "non-integer status 'FAILURE' (str)" in violation.observed


def test_a_never_completed_initiate_is_judged_only_on_completion() -> None:
    report = never_completes()
    assert {v.rule_id for v in report.violations} == {"INI-COMPLETE-ONCE"}
    assert "no completion within 0.2 s" in report.violations[0].observed


def test_should_rules_fail_only_when_strict() -> None:
    report = own_code_under_failed_path()
    assert report.failures() == []
    assert [v.rule_id for v in report.failures(strict=True)] == ["INI-FAILED-SUBTREE-FAILURE"]


def test_a_known_linker_failing_with_its_dependents_abandons_nothing() -> None:
    report = _with_linker(
        {LN: S.SUCCESS, LT0: S.FAILURE, LT1: S.RESOURCES, LT2: S.OFFLOAD_TCP_XMIT_BUFFER}
    )
    assert report.violations == []
    assert not report.outcomes["INI-FAILED-SUBTREE-FAILURE"].exercised


def test_an_initiate_after_capacity_was_exceeded_is_not_blamed_for_it() -> None:
    checker = TargetChecker(CAP1)
    host = RecordingHost()
    first = checker.check(
        observe(
            _grandchild_tree(),
            write({N1: S.SUCCESS, P1: S.SUCCESS, T1: S.SUCCESS, T2: S.SUCCESS}),
            CAP1,
            host=host,
        )
    )
    assert [v.rule_id for v in first.violations] == ["INI-CAPACITY"]
    refused = {N1: S.SUCCESS, P1: S.OFFLOAD_PARTIAL_SUCCESS, T1: S.OFFLOAD_TCP_ENTRIES}
    tree = new_offload(
        NeighborOffloadState(), new_offload(PathOffloadState(), new_offload(TcpOffloadState()))
    )
    second = checker.check(observe(tree, write(refused), CAP1, host=host))
    assert second.outcomes["INI-CAPACITY"].exercised
    assert second.violations == []


@pytest.mark.parametrize(
    ("rule_id", "case"),
    [
        ("INI-HW-ADDRESS-CAUSE", hw_address_with_mac),
        ("INI-VLAN-MISMATCH-CAUSE", lambda: _vlan_case(20, VLAN_CAPS)),
        ("INI-RCV-WINDOW-CAUSE", lambda: _window(65536)),
        ("INI-PATH-MTU-CAUSE", lambda: _mtu(1501)),
        ("INI-CONNECTION-REJECTED-VERSION", lambda: _rejected((6, 20))),
        ("INI-ENTRIES-CAUSE", at_capacity),
    ],
)
def test_a_cause_code_where_its_cause_holds_is_no_violation(
    rule_id: str, case: Callable[[], CheckReport]
) -> None:
    assert case().outcomes[rule_id].violations == []


def test_cause_rules_count_opportunities_not_the_codes_written() -> None:
    # Every block SUCCESS: no cause code written, yet each rule had its chance to be broken.
    outcomes = chain_ok().outcomes
    for rule_id in (
        "INI-HW-ADDRESS-CAUSE",
        "INI-VLAN-MISMATCH-CAUSE",
        "INI-RCV-WINDOW-CAUSE",
        "INI-CODE-LAYER",
        "INI-ENTRIES-CAUSE",
    ):
        assert outcomes[rule_id].hits == 1, rule_id
    assert outcomes["INI-CONNECTION-REJECTED-VERSION"].hits == 0  # 6.20: not applicable


def test_depth_first_still_judges_a_single_path_it_does_not_count_as_an_opportunity() -> None:
    outcome = capacity_out_of_order().outcomes["INI-DEPTH-FIRST"]
    assert outcome.hits == 0  # rules.md 4.1: the opportunity needs several paths
    assert [v.path for v in outcome.violations] == ["neighbor[0].path[0].tcp[1]"]


def test_context_rules_count_opportunities_even_when_the_target_offloads_nothing() -> None:
    # A target failing every block still had each new offload as a chance to write (or
    # leave out) a context: the opportunity is the tree, not the answer (rules.md 4.1).
    outcomes = fails_everything().outcomes
    assert outcomes["INI-CONTEXT-ON-SUCCESS"].hits == 1
    assert outcomes["INI-NO-CONTEXT-ON-FAILURE"].hits == 1
    assert outcomes["INI-CONTEXT-UNIQUE"].hits == 1
