"""LIFE rules on how a lifecycle request completes: once, without raising, every status
allowed, nothing of the host's written, SUCCESS while healthy, the failure sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload.catalogue._lifecycle._facts import FAILURE, SUCCESS
from pytest_offload.catalogue._registry import Grade, rule
from pytest_offload.harness import HOST_FIELD_NAMES, TARGET_FIELD_NAMES
from pytest_offload.model import (
    NdisStatus,
    Role,
    TcpOffloadEventType,
    TcpUploadReason,
    context_key,
    format_status,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._lifecycle._facts import RequestFacts
    from pytest_offload.catalogue._registry import RuleOutcome
    from pytest_offload.harness import TreeImage

GROUP = "lifecycle"
MUST, SHOULD = Grade.MUST, Grade.SHOULD
_ALLOWED = frozenset({SUCCESS, FAILURE})
_STATE = HOST_FIELD_NAMES.index("state")
_CHAIN = HOST_FIELD_NAMES.index("net_buffer_list_chain")
_SLOT = HOST_FIELD_NAMES.index("miniport_offload_context")


def _method(facts: RequestFacts) -> str:
    return f"{facts.operation}_offload"


def _completion(facts: RequestFacts) -> str:
    if facts.operation == "query":
        return "host.query_offload_state_complete(root)"
    return f"host.{facts.operation}_offload_complete(root)"


@rule(
    "LIFE-COMPLETE-ONCE",
    MUST,
    group=GROUP,
    judges="request",
    text="One call of the matching completion, same root, in time.",
    source="lifecycle.md 3; domain.md 5 [R:ns-ndischimney-_ndis_miniport_offload_block_list]",
)
def complete_once(facts: RequestFacts, out: RuleOutcome) -> None:
    obs = facts.observation
    out.hit()
    matching = [c for c in obs.completions if c.via == facts.operation]
    for other in obs.completions:
        if other.via != facts.operation:
            out.violate(
                0,
                f"completed through {other.via}_offload_complete",
                f"one call of {_completion(facts)}",
                f"the tree of a {facts.operation} request",
            )
    for completion in matching:
        if not completion.matches_root:
            out.violate(
                0,
                f"a completion with {type(completion.root).__name__} {completion.root!r}",
                "the very root object handed to the request",
            )
    if not matching:
        raised = obs.raised
        if raised is not None and raised.crash:
            return  # the target's process ended: LIFE-NO-RAISE's
        if obs.wire_errors:
            return  # garbage on the wire: WIRE-PROTOCOL's
        out.violate(
            0,
            f"{_method(facts)} raised {raised} and never completed"
            if raised is not None
            else f"no completion within {obs.timeout:g} s",
            f"exactly one call of {_completion(facts)}",
        )
    elif not obs.returned:
        out.violate(
            0,
            f"completed, but {_method(facts)} had not returned after {obs.timeout:g} s",
            f"{_method(facts)} returns (it may complete later, from any thread)",
        )
    elif len(matching) > 1:
        calls = ", ".join(f"{c.seconds * 1000:.1f} ms on {c.thread_name}" for c in matching)
        out.violate(0, f"{len(matching)} completions ({calls})", "exactly one completion")


@rule(
    "LIFE-NO-RAISE",
    MUST,
    group=GROUP,
    judges="request",
    text="The four methods do not raise.",
    source="lifecycle.md 3; domain.md 5, native.md (the handlers return VOID)",
)
def no_raise(facts: RequestFacts, out: RuleOutcome) -> None:
    out.hit()
    raised = facts.observation.raised
    if raised is None:
        return
    if raised.crash:
        out.violate(
            0,
            str(raised),
            "the target process keeps running and completes every request",
            f"crashed with a {facts.operation} request in flight",
        )
    elif facts.completed:  # one that never completed is LIFE-COMPLETE-ONCE's
        out.violate(
            0,
            f"{_method(facts)} raised {raised}",
            "a return without exception (report failures as block statuses)",
        )


@rule(
    "LIFE-STATUS-ALLOWED",
    MUST,
    group=GROUP,
    judges="request",
    reading=True,
    text="Every block ends SUCCESS or FAILURE (PENDING = unwritten); placeholders SUCCESS.",
    source="lifecycle.md 3; domain.md 3 notes [R:ns-ndischimney-_ndis_miniport_offload_block"
    "_list], 7.5",
)
def status_allowed(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.image is None:
        return
    statuses = facts.image.statuses
    roles = facts.snapshot.roles
    out.hit(len(statuses))
    for i, status in enumerate(statuses):
        if roles[i] is Role.PLACEHOLDER:
            if status != SUCCESS:
                out.violate(i, format_status(status), "SUCCESS on a placeholder")
        elif status not in _ALLOWED:
            what = "unwritten (PENDING)" if status == NdisStatus.PENDING else format_status(status)
            out.violate(i, what, "SUCCESS or FAILURE")


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # a hostile __eq__: not the same
        return False


def _may_write(facts: RequestFacts, position: int, column: int) -> bool:
    """What section 1 lets the target write besides status and the target's fields."""
    if position not in facts.named_positions:
        return False
    if column == _STATE:
        return facts.operation in ("terminate", "query")
    if column == _CHAIN:
        return facts.operation == "terminate" and facts.snapshot.depths[position] == 2
    return False


def _changes(facts: RequestFacts, before: TreeImage, after: TreeImage) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for column, name in enumerate(HOST_FIELD_NAMES):
        old, new = before.host_columns[column], after.host_columns[column]
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            if not _same(a, b) and not _may_write(facts, i, column):
                out.append((i, name))
    for i, (a, b) in enumerate(zip(before.slot_values, after.slot_values, strict=False)):
        if context_key(a) != context_key(b) and not _same(a, b):
            out.append((i, "miniport_offload_context value"))
    return out


def _late_changes(before: TreeImage, after: TreeImage) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    columns = [("status", before.statuses, after.statuses)]
    columns += [
        (name, before.host_columns[c], after.host_columns[c])
        for c, name in enumerate(HOST_FIELD_NAMES)
    ]
    columns += [
        (name, before.target_columns[c], after.target_columns[c])
        for c, name in enumerate(TARGET_FIELD_NAMES)
    ]
    for name, old, new in columns:
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            if not _same(a, b):
                out.append((i, name))
    for i in set(before.nbl_statuses) | set(after.nbl_statuses):
        if not _same(before.nbl_statuses.get(i), after.nbl_statuses.get(i)):
            out.append((i, "the status of an NBL of net_buffer_list_chain"))
    return out


@rule(
    "LIFE-HOST-FIELDS-INTACT",
    MUST,
    group=GROUP,
    judges="request",
    text="Only what lifecycle.md section 1 allows is written; nothing after completion.",
    source="lifecycle.md 1, 3; domain.md 2.1, 4.3",
)
def host_fields_intact(facts: RequestFacts, out: RuleOutcome) -> None:
    obs = facts.observation
    if facts.image is None:
        return
    out.hit()
    seen: set[tuple[int, str]] = set()
    for i, name in _changes(facts, facts.snapshot.image, facts.image):
        seen.add((i, name))
        out.violate(i, f"{name} changed", f"{name} as the host handed it over")
    for i, nbls in facts.snapshot.image.nbl_statuses.items():
        after = facts.image.nbl_statuses.get(i)
        if after is not None and not _same(after, nbls):
            out.violate(i, "NBL statuses of the chain changed", "the host's NBLs left alone")
    for write in obs.memory_writes:
        out.violate(
            write.position,
            str(write),
            "writes only to status, the structure the request asks for, the chain (terminate) "
            "and MiniportReserved/Scratch",
            "after the completion" if write.late else "",
        )
    final = obs.final_image
    if final is None:
        return
    for i, name in _late_changes(facts.image, final):
        if (i, name) not in seen:
            out.violate(
                i,
                f"{name} written after the completion",
                f"nothing written once {_completion(facts)} was called",
            )


@rule(
    "LIFE-HEALTHY-SUCCESS",
    SHOULD,
    group=GROUP,
    judges="request",
    reading=True,
    text="A healthy target answers SUCCESS on every named block. Healthy until it signals a "
    "hardware failure: FAILURE on a terminate, invalidate or query block, or a RETRIEVE with "
    "HARDWARE_FAILURE (an update's FAILURE is not one; nor is an ABORT).",
    source="lifecycle.md 3; domain.md 5.1, 5.3-5.5 [C:returning-the-completion-status-of-a-"
    "terminate-offload-operation]",
)
def healthy_success(facts: RequestFacts, out: RuleOutcome) -> None:
    request = facts.request
    if request.robustness or not request.healthy or facts.image is None:
        return
    for named in facts.named:
        out.hit()
        if not facts.succeeded(named):
            out.violate(
                named.position,
                format_status(facts.status(named.position)),
                f"SUCCESS: the target had signalled no hardware failure before this "
                f"{facts.operation}",
            )


@rule(
    "LIFE-ROBUST-FAILURE",
    SHOULD,
    group=GROUP,
    judges="request",
    reading=True,
    text="A robustness case ends FAILURE on the offending block; no other object changed.",
    source="lifecycle.md 2 (robustness cases); domain.md 7.14 by analogy",
)
def robust_failure(facts: RequestFacts, out: RuleOutcome) -> None:
    if not facts.request.robustness or facts.image is None:
        return
    out.hit()
    for named in facts.named:
        if named.offending and not facts.failed(named):
            out.violate(
                named.position,
                format_status(facts.status(named.position)),
                "FAILURE",
                named.offending,
            )


@rule(
    "LIFE-FAILURE-SEQUENCE",
    SHOULD,
    group=GROUP,
    judges="request",
    target_triggered=True,
    text="FAILURE on a terminate, invalidate or query TCP block is followed by RETRIEVE with "
    "HARDWARE_FAILURE, then ABORT, both within the operation timeout.",
    source="lifecycle.md 3, H7; domain.md 5.1, 5.4 [C:returning-the-completion-status-of-an-"
    "invalidate-operation]",
)
def failure_sequence(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.operation == "update" or facts.request.robustness:
        return
    done = facts.completed_at()
    if done is None:
        return
    timeout = facts.observation.timeout
    for named in facts.named:
        record = named.record
        if record is None or record.layer != "tcp" or not facts.failed(named):
            continue
        out.hit()
        mine = [
            e
            for e in facts.events
            if context_key(e.handle) == record.handle_key
            and facts.observation.started <= e.entered <= done + timeout
        ]
        retrieve = next(
            (
                e
                for e in mine
                if e.event_type == TcpOffloadEventType.RETRIEVE
                and e.information == TcpUploadReason.HARDWARE_FAILURE
            ),
            None,
        )
        abort = next(
            (
                e
                for e in mine
                if e.event_type == TcpOffloadEventType.ABORT
                and (retrieve is None or e.entered >= retrieve.entered)
            ),
            None,
        )
        if retrieve is None or abort is None:
            missing = [
                name
                for name, found in (("RETRIEVE with HARDWARE_FAILURE", retrieve), ("ABORT", abort))
                if found is None
            ]
            out.violate(
                named.position,
                f"FAILURE, then no {' and no '.join(missing)} within {timeout:g} s",
                "RETRIEVE with HARDWARE_FAILURE, then ABORT, for this connection",
                "the corrupt-hardware sequence (domain.md 5.1)",
            )
