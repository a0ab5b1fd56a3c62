"""The trees of lifecycle requests (lifecycle.md section 1), built from the model.

Every request keeps the layered shape of an initiate: a named block stands at its
object's layer, under its parent's block when that is named too, else under a
placeholder for the parent (layers not named are placeholders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue import Named, Request
from pytest_offload.model import (
    LAYERS,
    REQUEST_TYPES,
    TYPE_CLASSES,
    ContextSlot,
    OffloadBlockList,
    OffloadStateType,
    chain,
    poisoned,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.catalogue import ObjectRecord
    from pytest_offload.catalogue._lifecycle import LifecycleModel

__all__ = ["NamedSpec", "build_request", "request_type"]

#: What a robustness case names instead of an object, by its ``robust`` word.
ROBUST_WHY = {
    "gone": "names an object already terminated with SUCCESS",
    "unknown": "names a context the target never handed out",
    "null": "names no object (a NULL context)",
    "omit": "a terminate leaving live dependents of this object out of the tree",
}


class NeverIssued:
    """A context the target never handed out (a robustness case)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<context the target never handed out>"


class NamedSpec:
    """One object a request names, and the structure to hand with it."""

    __slots__ = ("handed", "layer", "offending", "record", "state_type", "value")

    def __init__(
        self,
        record: ObjectRecord | None,
        state_type: int,
        *,
        handed: Any = None,
        value: object = None,
        offending: str = "",
        layer: str = "",
    ) -> None:
        self.record = record
        self.state_type = state_type
        self.handed = handed
        #: The slot's value (the record's context unless a robustness case says else).
        self.value = record.context if record is not None and not offending else value
        self.offending = offending
        self.layer = record.layer if record is not None else layer


def request_type(operation: str, record: ObjectRecord) -> int:
    """The state type a request's block for ``record`` carries (paths by IP version)."""
    options = REQUEST_TYPES[operation][record.layer]
    if record.layer == "path" and record.state_type == OffloadStateType.IP6:
        return options[1]
    return options[0]


def _block(spec: NamedSpec, operation: str) -> OffloadBlockList:
    state = spec.handed
    if operation in ("terminate", "query") and state is None:
        cls = TYPE_CLASSES.get(spec.state_type)
        state = poisoned(cls) if cls is not None else None
        spec.handed = state
    record = spec.record
    return OffloadBlockList(
        spec.state_type,
        state=state,
        miniport_offload_context=ContextSlot(spec.value),
        ndis_offload_handle=record.handle if record is not None else None,
    )


def build_request(
    operation: str,
    specs: Sequence[NamedSpec],
    model: LifecycleModel,
    *,
    robustness: str = "",
    anchor: ObjectRecord | None = None,
    healthy: bool = True,
) -> tuple[OffloadBlockList, Request]:
    """The tree of one request naming ``specs``, and the :class:`Request` describing it
    (``anchor``: an update's neighbor the named paths are relinked to)."""
    ordered = list(specs)
    if anchor is not None:
        ordered.insert(0, NamedSpec(anchor, OffloadStateType.NEIGHBOR))
    blocks: dict[int, OffloadBlockList] = {}  # id(record) -> its block, named or placeholder
    children: dict[int, list[OffloadBlockList]] = {}  # id(block) -> dependents in order
    roots: list[OffloadBlockList] = []
    named_ids = {id(s.record) for s in ordered if s.record is not None}
    own: dict[int, OffloadBlockList] = {}  # id(spec) -> its block
    every: list[OffloadBlockList] = []

    def hang(block: OffloadBlockList, parent: ObjectRecord | None, depth: int) -> None:
        every.append(block)
        if depth == 0:
            roots.append(block)
            return
        if parent is None:
            above = OffloadBlockList(OffloadStateType.NEIGHBOR)  # a placeholder of its own
            hang(above, None, depth - 1)
        else:
            above = block_of(parent, depth - 1)
        children.setdefault(id(above), []).append(block)

    def parent_of(record: ObjectRecord) -> ObjectRecord | None:
        if anchor is not None and record.layer == "path":
            return anchor
        return record.parent

    def block_of(record: ObjectRecord, depth: int) -> OffloadBlockList:
        found = blocks.get(id(record))
        if found is not None:
            return found
        if id(record) in named_ids:
            spec = next(s for s in ordered if s.record is record)
            made = _block(spec, operation)
            own[id(spec)] = made
        else:
            made = OffloadBlockList(OffloadStateType.NEIGHBOR)  # a placeholder for it
        blocks[id(record)] = made
        hang(made, parent_of(record), depth)
        return made

    for spec in ordered:
        if spec.record is not None:
            block_of(spec.record, LAYERS.index(spec.record.layer))
        else:
            made = _block(spec, operation)
            own[id(spec)] = made
            hang(made, None, LAYERS.index(spec.layer))
    for block in every:
        block.dependent_block_list = chain(children.get(id(block), []))
    root = chain(roots)
    assert root is not None
    named: list[Named] = []
    for spec in ordered:
        entry = _describe(spec, spec.record, model, operation)
        entry.block = own[id(spec)]
        named.append(entry)
    request = Request(operation, named, robustness=robustness, anchor=anchor, healthy=healthy)
    return root, request


def _describe(
    spec: NamedSpec, record: ObjectRecord | None, model: LifecycleModel, operation: str
) -> Named:
    """The :class:`Named` of one spec, with a copy of what the model knew of its object."""
    entry = Named(
        None,
        None if spec.offending in ("unknown", "null") else record,
        spec.layer,
        offending=ROBUST_WHY.get(spec.offending, spec.offending),
        handed=spec.handed,
    )
    if record is not None:
        entry.cached = record.cached
        entry.updated = record.updated
        entry.quiet = record.quiet
        entry.aborted = record.aborted
        entry.relinked = record.relinked or (record.parent is not None and record.parent.relinked)
        if operation == "terminate" and record.layer == "tcp":
            entry.outstanding = tuple(n for n in record.sends if not model.completions_of(n))
    return entry
