"""Lifecycle rules judged on initiates: contexts unique against objects still reserved,
capacity freed by terminates and held by invalidated objects (lifecycle.md section 6)."""

from __future__ import annotations

from itertools import compress, repeat
from operator import eq
from typing import TYPE_CHECKING

from pytest_offload.catalogue._initiate.capability import _capacities
from pytest_offload.catalogue._registry import Grade, rule
from pytest_offload.model import LAYERS, NdisStatus, format_status

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts
    from pytest_offload.catalogue._registry import RuleOutcome

MUST, SHOULD = Grade.MUST, Grade.SHOULD
_ENTRIES_OF = {
    "tcp": NdisStatus.OFFLOAD_TCP_ENTRIES,
    "path": NdisStatus.OFFLOAD_PATH_ENTRIES,
    "neighbor": NdisStatus.OFFLOAD_NEIGHBOR_ENTRIES,
}
_STATE_WORDS = {"terminating": "being terminated", "in doubt": "in doubt (terminate failed)"}


@rule(
    "LIFE-CONTEXT-UNIQUE",
    MUST,
    group="lifecycle",
    text="New contexts differ from those of objects LIVE, TERMINATING or IN_DOUBT (all "
    "layers), invalidated ones included; a GONE one's may recur.",
    source="lifecycle.md 3; domain.md 4.3 [C:storing-and-referencing-offloaded-state]",
)
def context_unique(facts: InitiateFacts, out: RuleOutcome) -> None:
    ledger = facts.batch.ledger
    if not ledger.lifecycle_requests or not facts.new_positions:
        return
    out.hit()
    reserved = ledger.lifecycle_keys()
    if not reserved or not facts.new_offloaded:
        return
    keys = facts.context_keys()
    for position, key in zip(facts.new_offloaded, keys, strict=True):
        if key is None or key not in reserved:
            continue
        entry = ledger.entry(key)
        state = _STATE_WORDS.get(ledger.state_of(key), "invalidated")
        if key in ledger.invalidated and ledger.state_of(key) == "live":
            state = "invalidated (held until terminated)"
        owner = f" offloaded at {entry.path} of {entry.initiate}" if entry else ""
        out.violate(
            position,
            f"context {facts.slot_values[position]!r}, the context of an object {state}{owner}",
            "a context no held object has (only a context of an object terminated with "
            "SUCCESS may recur)",
        )


@rule(
    "LIFE-CAPACITY-FREED",
    SHOULD,
    group="lifecycle",
    text="Terminate SUCCESS frees capacity: *_ENTRIES only when live and in-doubt objects "
    "fill it.",
    source="lifecycle.md 3; domain.md 5.1 [R:nf-ndischimney-ndismterminateoffloadcomplete]",
)
def capacity_freed(facts: InitiateFacts, out: RuleOutcome) -> None:
    batch = facts.batch
    ledger = batch.ledger
    for layer, name, cap in _capacities(facts.capabilities):
        gone = ledger.gone[layer]
        offered = facts.new_of_layer(LAYERS.index(layer))
        held = ledger.counts[layer]
        # The opportunity: what is offered fits only because the terminated objects left.
        if not gone or not offered or held + offered > cap or held + gone + offered <= cap:
            continue
        out.hit()
        code = _ENTRIES_OF[layer]
        if code not in facts.present:
            continue
        depth = LAYERS.index(layer)
        total = held + batch.offloaded_in_batch(layer)
        if total >= cap or total + gone < cap:
            continue  # full indeed, or INI-ENTRIES-CAUSE's (not even the gone fill it)
        for i in facts.typed_positions(int(code), depth):
            out.violate(
                i,
                f"{format_status(code)} with {total} {layer} objects held, after {gone} "
                "terminated with SUCCESS",
                f"room for {cap - total} more ({name}={cap}): a terminate frees capacity",
            )


@rule(
    "INV-STILL-OFFLOADED",
    MUST,
    group="invalidate",
    text="Invalidated objects hold capacity until terminated (an excess due only to them is "
    "reported here).",
    source="lifecycle.md 3; domain.md 5.4 [C:handling-invalidated-state-objects]",
)
def still_offloaded(facts: InitiateFacts, out: RuleOutcome) -> None:
    batch = facts.batch
    ledger = batch.ledger
    for layer, name, cap in _capacities(facts.capabilities):
        invalid = ledger.invalidated_count(layer)
        if not invalid:
            continue
        depth = LAYERS.index(layer)
        base = ledger.capacity_count(layer)
        for other in batch.initiates:
            if other is facts:
                break
            base += other.offloaded_depths.count(depth)
        offered = facts.new_of_layer(depth)
        if not offered or base + offered > cap or base + invalid + offered <= cap:
            continue
        out.hit()
        mine = list(compress(facts.new_offloaded, map(eq, facts.offloaded_depths, repeat(depth))))
        if mine and base + invalid + len(mine) > cap:
            first_over = mine[max(cap - base - invalid, 0)]
            out.violate(
                first_over,
                f"{base + invalid + len(mine)} {layer} objects held, {invalid} of them "
                "invalidated",
                f"at most {name}={cap}, invalidated objects included until terminated",
            )
