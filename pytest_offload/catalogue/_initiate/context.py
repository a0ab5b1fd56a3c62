"""Context rules: context written on success only, unique contexts, send data kept on failure."""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_, is_not, not_
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule
from pytest_offload.harness import NO_SLOT
from pytest_offload.model import LAYERS, Role, context_key, format_status

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts

MUST = Grade.MUST
GROUP = "context"
SRC_CONTEXT = "domain.md 4.3 [C:storing-and-referencing-offloaded-state]"
TCP_DEPTH = LAYERS.index("tcp")


@rule(
    "INI-CONTEXT-ON-SUCCESS",
    MUST,
    group=GROUP,
    text="An offloaded new-offload block has a non-None value written to its context slot.",
    source=f"{SRC_CONTEXT}, [R:nc-ndischimney-w_initiate_offload_handler]",
)
def context_on_success(facts: InitiateFacts, out: RuleOutcome) -> None:
    if facts.new_positions:
        out.hit()  # any new offload may be offloaded without a context (rules.md 4.1)
    keys = facts.context_keys()  # None: NULL or an invalid context (rules.md section 3)
    if None not in keys:
        return
    values = facts.new_offloaded_slots()
    for i, value in compress(
        zip(facts.new_offloaded, values, strict=True), map(is_, keys, repeat(None))
    ):
        what = "still None" if value is None else f"holding {value!r}: NULL or no pointer"
        out.violate(
            i,
            f"{format_status(facts.raw_statuses[i])} with the context slot {what}",
            "the target's context (a non-NULL pointer value) written to *MiniportOffloadContext",
        )


@rule(
    "INI-NO-CONTEXT-ON-FAILURE",
    MUST,
    group=GROUP,
    text="A failed new-offload block's context slot is left None.",
    source="domain.md 4.3 [R:nc-ndischimney-w_initiate_offload_handler]",
)
def no_context_on_failure(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.completed:
        return
    slots, new = facts.slot_values, facts.new_positions
    failed_count = len(new) - len(facts.new_offloaded)
    if new:
        out.hit()  # any new offload may fail with a context written (rules.md 4.1)
    if not failed_count:
        return
    # New offloads are handed over with an empty slot (None). Count, at C speed, the
    # slots the target wrote: when the offloaded new offloads and the other blocks account
    # for all of them, no failed new offload got a context.
    handed_over = facts.snapshot.image.slot_values
    written = sum(map(is_not, handed_over, slots))
    others = facts.others
    written -= sum(1 for i in others if handed_over[i] is not slots[i])
    # (With an offloaded block's slot left empty, INI-CONTEXT-ON-SUCCESS's finding, the
    # count does not add up: look at each failed block instead.)
    if not any(map(is_, facts.new_offloaded_slots(), repeat(None))):
        written -= len(facts.new_offloaded)
        if written == 0:
            return
    offloaded = facts.offloaded
    for i in compress(new, map(not_, map(offloaded.__getitem__, new))):
        value = slots[i]
        if value is not NO_SLOT and context_key(value) is not None:  # NULL (0) is no context
            out.violate(
                i,
                f"{format_status(facts.raw_statuses[i])} with context {value!r} written",
                "the context slot left None on a block that was not offloaded",
            )


@rule(
    "INI-CONTEXT-UNIQUE",
    MUST,
    group=GROUP,
    text="Contexts of distinct offloaded objects differ, also from objects still offloaded by "
    "earlier initiates of the same target.",
    source=SRC_CONTEXT,
)
def context_unique(facts: InitiateFacts, out: RuleOutcome) -> None:
    batch = facts.batch
    earlier: list[InitiateFacts] = []
    for other in batch.initiates:
        if other is facts:
            break
        earlier.append(other)
    ledger = batch.ledger
    # Opportunity (rules.md 4.1): two new offloads handed to one target, counting what it
    # holds from earlier initiates and what earlier initiates of this batch were handed.
    handed = sum(len(o.new_positions) for o in earlier)
    if facts.new_positions and len(facts.new_positions) + handed + len(ledger) >= 2:
        out.hit()
    before = len(ledger) + sum(len(o.new_offloaded) for o in earlier)
    if not earlier and facts.contexts_unique_and_new():
        return  # the common case, decided at C speed
    slots = facts.slot_values
    keys = facts.context_keys()
    mine = facts.new_offloaded
    if None in keys:
        with_context = list(map(is_not, keys, repeat(None)))
        mine = list(compress(mine, with_context))
        keys = list(compress(keys, with_context))
    if before + len(mine) < 2:
        return
    # Slow path: say which object already had each repeated context.
    # Objects terminating, in doubt or invalidated are LIFE-CONTEXT-UNIQUE's to judge.
    lifecycle = ledger.lifecycle_keys()
    owners: dict[Any, str] = {
        k: f"{e.path} of {e.initiate}" for k, e in ledger.entries.items() if k not in lifecycle
    }
    for other in earlier:
        for i in other.new_offloaded:
            value = other.slot_values[i]
            if value is not NO_SLOT and context_key(value) is not None:
                owners.setdefault(
                    context_key(value), f"{other.snapshot.path(i)} of {other.observation.label}"
                )
    for i, key in zip(mine, keys, strict=True):
        first = owners.get(key)
        if first is None:
            owners[key] = f"{facts.snapshot.path(i)} of {facts.observation.label}"
            continue
        out.violate(
            i,
            f"context {slots[i]!r}, already the context of {first}",
            "a context no other offloaded object has",
        )


@rule(
    "INI-SEND-DATA-KEPT-ON-FAILURE",
    MUST,
    group=GROUP,
    text="For a failed TCP block, the NBLs of its net_buffer_list_chain keep their status and "
    "are never passed to tcp_offload_send_complete.",
    source="domain.md 4.3 [C:partial-offloads-and-offload-failures]",
)
def send_data_kept_on_failure(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.completed:
        return
    obs = facts.observation
    before = facts.snapshot.image.nbl_statuses
    if not before:
        return
    completed_ids = {id(nbl) for nbl in obs.send_completed}
    images = [img for img in (obs.completion_image, obs.final_image) if img is not None]
    roles = facts.snapshot.roles
    for i, statuses in before.items():
        if roles[i] is not Role.NEW_OFFLOAD or facts.new_depth[i] != TCP_DEPTH:
            continue
        out.hit()  # a new TCP block with send data: the target may fail it (rules.md 4.1)
        if facts.is_offloaded(i):
            continue
        chain = facts.snapshot.image.chains[i]
        assert isinstance(chain, tuple)
        for n, nbl in enumerate(chain):
            if id(nbl) in completed_ids:
                out.violate(
                    i,
                    f"NBL {n} of the send data passed to tcp_offload_send_complete",
                    "the send data of a failed TCP block left with the host",
                )
        for img in images:
            after = img.nbl_statuses.get(i)
            if after is not None and after != statuses:
                changed = [
                    n for n, (a, b) in enumerate(zip(statuses, after, strict=False)) if a != b
                ]
                out.violate(
                    i,
                    f"NBL status changed on NBL(s) {changed} "
                    f"(now {[format_status(after[n]) for n in changed]})",
                    "NBL statuses of a failed TCP block left as the host set them",
                )
                break
