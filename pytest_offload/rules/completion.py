"""Completion rules: one completion, the same root, no exception, every status written."""

from __future__ import annotations

from operator import is_
from typing import TYPE_CHECKING

from pytest_offload.rules._base import Grade, RuleOutcome, rule
from pytest_offload.snapshot import HOST_FIELD_NAMES, NO_SLOT
from pytest_offload.status import NdisStatus

if TYPE_CHECKING:
    from pytest_offload.rules._facts import InitiateFacts
    from pytest_offload.snapshot import TreeImage

MUST, SHOULD = Grade.MUST, Grade.SHOULD
GROUP = "completion"
SRC_SEQUENCE = "domain.md 4.1 [C:initiate-offload-call-sequence]"


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
        out.violate(
            None,
            f"no completion within {obs.timeout:g} s",
            "exactly one call of host.initiate_offload_complete(root)",
        )
    elif count > 1:
        calls = ", ".join(f"{c.seconds * 1000:.1f} ms on {c.thread_name}" for c in obs.completions)
        out.violate(None, f"{count} completions ({calls})", "exactly one completion")


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
                None,
                f"a completion with {completion.root!r}",
                "the very root object handed to initiate_offload",
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
    if raised is not None:
        out.violate(
            None,
            f"initiate_offload raised {raised}",
            "a return without exception (report failures as block statuses)",
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
    roles = facts.snapshot.roles
    for i in facts.with_code(int(NdisStatus.PENDING)):
        out.violate(
            i,
            "PENDING (0x00000103): no status written",
            f"a completion status written into this {roles[i].value} block",
        )


def _changed_fields(before: tuple[object, ...], after: tuple[object, ...]) -> list[str]:
    names: list[str] = []
    for name, old, new in zip(HOST_FIELD_NAMES, before, after, strict=True):
        try:
            same = old is new or old == new
        except Exception:  # a target-written object may have a hostile __eq__
            same = False
        if not same:
            names.append(name)
    return names


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
    if before.host_fields != image.host_fields:
        for i, (old, new) in enumerate(zip(before.host_fields, image.host_fields, strict=True)):
            if old != new:
                changed = ", ".join(_changed_fields(old, new))
                out.violate(i, f"changed {changed}", "host-owned fields left as handed over")
    for i in facts.linkers:
        was, now = before.slot_values[i], image.slot_values[i]
        if was is not now:
            out.violate(
                i,
                f"linker slot value changed from {was!r} to {now!r}",
                "a linker's context slot left untouched",
            )


def _image_differences(first: TreeImage, later: TreeImage, position: int) -> list[str]:
    names: list[str] = []
    if first.statuses[position] is not later.statuses[position]:
        names.append("status")
    if first.slot_values[position] is not later.slot_values[position]:
        names.append("context slot")
    if first.target_fields[position] != later.target_fields[position]:
        names.append("miniport_reserved/scratch")
    if first.host_fields[position] != later.host_fields[position]:
        names.extend(_changed_fields(first.host_fields[position], later.host_fields[position]))
    return names


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
    if (
        first.statuses == later.statuses
        and first.target_fields == later.target_fields
        and first.host_fields == later.host_fields
        and all(map(is_, first.slot_values, later.slot_values))
    ):
        return
    for i in range(facts.n):
        changed = _image_differences(first, later, i)
        if changed:
            after = later.slot_values[i]
            shown = "" if after is NO_SLOT else f"; status now {later.statuses[i]!r}"
            out.violate(
                i,
                f"{', '.join(changed)} written after the completion{shown}",
                "no write to the tree once initiate_offload_complete was called",
            )
