"""Completion rules: one completion, the same root, no exception, every status written."""

from __future__ import annotations

from itertools import compress, starmap
from operator import is_, is_not
from typing import TYPE_CHECKING

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule
from pytest_offload.harness import HOST_FIELD_NAMES, TARGET_FIELD_NAMES
from pytest_offload.model import NdisStatus, OffloadStateType, context_key, format_status

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts

MUST, SHOULD = Grade.MUST, Grade.SHOULD
GROUP = "completion"
SRC_SEQUENCE = "domain.md 4.1 [C:initiate-offload-call-sequence]"


def _root(facts: InitiateFacts) -> str:
    """Names the root block handed over, e.g. ``the root block (new offload NEIGHBOR)``."""
    role = facts.snapshot.roles[0].value
    state_type = facts.snapshot.image.state_types[0]
    try:
        kind = OffloadStateType(state_type).name  # type: ignore[arg-type]
    except (TypeError, ValueError):
        kind = f"state_type {state_type!r}"
    return f"the root block ({role} {kind})"


@rule(
    "INI-COMPLETE-ONCE",
    MUST,
    group=GROUP,
    text="Exactly one completion per initiate, within the operation timeout "
    "(a second call, or none in time, fails).",
    source=f"{SRC_SEQUENCE}, [R:nf-ndischimney-ndisminitiateoffloadcomplete]",
)
def complete_once(facts: InitiateFacts, out: RuleOutcome) -> None:
    obs = facts.observation
    out.hit()
    count = len(obs.completions)
    if count == 0:
        if facts.robustness_case:
            return  # a hang on a robustness case is INI-UNKNOWN-LINKER's or -MALFORMED-TREE's
        raised = obs.raised
        if raised is not None and raised.crash:
            return  # the target's process ended: INI-NO-RAISE's (rules.md 6)
        if obs.wire_errors:
            return  # the answer was garbage on the wire: WIRE-PROTOCOL's
        out.violate(
            0,
            f"initiate_offload raised {raised} and never completed"
            if raised is not None
            else f"no completion within {obs.timeout:g} s",
            "exactly one call of host.initiate_offload_complete(root)",
            f"{_root(facts)} was never handed back",
        )
    elif not obs.returned and not facts.robustness_case:
        out.violate(
            0,
            f"completed, but initiate_offload had not returned after {obs.timeout:g} s",
            "MiniportInitiateOffload returns (it may complete later, from any thread)",
            f"{_root(facts)} was handed back from a call that never ended",
        )
    elif count > 1:
        calls = ", ".join(f"{c.seconds * 1000:.1f} ms on {c.thread_name}" for c in obs.completions)
        out.violate(0, f"{count} completions ({calls})", "exactly one completion", _root(facts))


@rule(
    "INI-COMPLETE-ROOT",
    MUST,
    group=GROUP,
    text="The completion hands back the very root object that was handed in.",
    source="domain.md 4.1 [R:nf-ndischimney-ndisminitiateoffloadcomplete]",
)
def complete_root(facts: InitiateFacts, out: RuleOutcome) -> None:
    for completion in facts.observation.completions:
        out.hit()
        if not completion.matches_root:
            out.violate(
                0,
                f"a completion with {type(completion.root).__name__} {completion.root!r}",
                "the very root object handed to initiate_offload",
                f"{_root(facts)} is the object to hand back",
            )


@rule(
    "INI-NO-RAISE",
    MUST,
    group=GROUP,
    text="initiate_offload does not raise; outcomes are statuses.",
    source="domain.md 4.1 (MiniportInitiateOffload returns VOID)",
)
def no_raise(facts: InitiateFacts, out: RuleOutcome) -> None:
    out.hit()
    raised = facts.observation.raised
    if raised is None or facts.robustness_case:
        return
    if raised.crash:
        # A crash of the target's process, completed or not (rules.md 6).
        out.violate(
            0,
            str(raised),
            "the target process keeps running and completes every initiate",
            f"crashed with the tree of {_root(facts)} in flight",
        )
    elif facts.completed:
        # An initiate that never completed is INI-COMPLETE-ONCE's alone (rules.md 3).
        out.violate(
            0,
            f"initiate_offload raised {raised}",
            "a return without exception (report failures as block statuses)",
            f"raised on the tree of {_root(facts)}",
        )


@rule(
    "INI-STATUS-WRITTEN",
    MUST,
    group=GROUP,
    text="Every block, placeholders and linkers included, has a status other than PENDING "
    "at completion.",
    source="domain.md 4.1 [C:returning-completion-status-of-an-initiate-offload-operation]",
)
def status_written(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.completed:
        return
    out.hit()
    if NdisStatus.PENDING not in facts.present:
        return
    roles = facts.snapshot.roles
    for i in facts.with_code(int(NdisStatus.PENDING)):
        out.violate(
            i,
            "PENDING (0x00000103): no status written",
            f"a completion status written into this {roles[i].value} block",
        )


def _same(old: object, new: object) -> bool:
    try:
        return old is new or bool(old == new)
    except Exception:  # a target-written object may have a hostile __eq__
        return False


def _differing(first: list[object], later: list[object]) -> list[int]:
    """Positions where two columns differ (identity or equality), found at C speed when
    they are equal, which is the common case."""
    if first is later:
        return []
    try:
        if first == later:
            return []
    except Exception:  # a hostile __eq__: compare one by one below
        pass
    return [
        i for i, (old, new) in enumerate(zip(first, later, strict=True)) if not _same(old, new)
    ]


def _changes(
    names: tuple[str, ...],
    first: tuple[list[object], ...],
    later: tuple[list[object], ...],
    into: dict[int, list[str]],
) -> None:
    """Add, for each position, the names of the columns that differ there."""
    try:
        if first == later:  # every column equal: one C-level comparison
            return
    except Exception:  # a hostile __eq__: compare column by column below
        pass
    for name, old, new in zip(names, first, later, strict=True):
        for i in _differing(old, new):
            into.setdefault(i, []).append(name)


@rule(
    "INI-HOST-FIELDS-INTACT",
    MUST,
    group=GROUP,
    text="The target changes nothing but each block's status, the context slot of "
    "new-offload blocks, miniport_reserved and scratch: links, types, state, handles, "
    "protocol_reserved, im_reserved, source_handle, port_number and linker slots are "
    "unchanged.",
    source="domain.md 2.1, 4.3 [R:ns-ndischimney-_ndis_miniport_offload_block_list]",
)
def host_fields_intact(facts: InitiateFacts, out: RuleOutcome) -> None:
    image = facts.observation.completion_image
    if image is None:
        return
    out.hit()
    before = facts.snapshot.image
    changed: dict[int, list[str]] = {}
    _changes(HOST_FIELD_NAMES, before.host_columns, image.host_columns, changed)
    for i in sorted(changed):
        names = ", ".join(changed[i])
        out.violate(i, f"changed {names}", "host-owned fields left as handed over")
    for write in facts.observation.memory_writes:
        if not write.late:  # bytes of the tree's C memory (a native target)
            out.violate(write.position, str(write), "host-owned memory left as handed over")
    for i in facts.linkers:
        was, now = before.slot_values[i], image.slot_values[i]
        # The same pointer value written back (a C copy-back) is no change.
        if was is not now and context_key(was) != context_key(now):
            out.violate(
                i,
                f"linker slot value changed from {was!r} to {now!r}",
                "a linker's context slot left untouched",
            )


@rule(
    "INI-NO-TOUCH-AFTER-COMPLETE",
    MUST,
    group=GROUP,
    text="After completing, the target writes nothing more to the tree.",
    source="domain.md 4.1 [R:nc-ndischimney-w_initiate_offload_handler]",
)
def no_touch_after_complete(facts: InitiateFacts, out: RuleOutcome) -> None:
    obs = facts.observation
    first, later = obs.completion_image, obs.final_image
    if first is None or later is None:
        return
    out.hit()
    changed: dict[int, list[str]] = {}
    for i in _differing(first.statuses, later.statuses):
        old, new = format_status(first.statuses[i]), format_status(later.statuses[i])
        changed.setdefault(i, []).append(f"status from {old} to {new}")
    if not all(map(is_, first.slot_values, later.slot_values)):
        pairs = zip(first.slot_values, later.slot_values, strict=True)
        for i in compress(range(facts.n), starmap(is_not, pairs)):
            was, now = first.slot_values[i], later.slot_values[i]
            if context_key(was) != context_key(now):
                changed.setdefault(i, []).append(f"context slot from {was!r} to {now!r}")
    names = (*TARGET_FIELD_NAMES, *HOST_FIELD_NAMES)
    columns = (*first.target_columns, *first.host_columns)
    later_columns = (*later.target_columns, *later.host_columns)
    fields: dict[int, list[str]] = {}
    _changes(names, columns, later_columns, fields)
    for i, which in fields.items():
        for name in which:
            k = names.index(name)
            was, now = columns[k][i], later_columns[k][i]
            changed.setdefault(i, []).append(f"{name} from {_shown(was)} to {_shown(now)}")
    for write in obs.memory_writes:
        if write.late:  # bytes of the tree's C memory (a native target)
            changed.setdefault(write.position, []).append(str(write))
    for i in sorted(changed):
        out.violate(
            i,
            f"{'; '.join(changed[i])}, written after the completion",
            "no write to the tree once initiate_offload_complete was called",
        )


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a target-written object with a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."
