"""Transport rules: what a target outside the suite's process owes the wire (rules.md 6).

A process target is judged by every rule of the catalogue through its answers; this group
judges the answers themselves: garbage on stdout, a message the protocol's schema rejects,
an unknown method, a block or an initiate that does not exist, a message over the size
limit. Each such error is quoted as the suite received it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule

if TYPE_CHECKING:
    from pytest_offload.harness import Observation


class _Judged(Protocol):
    """The facts of an initiate or of a lifecycle request: both carry the observation."""

    @property
    def observation(self) -> Observation: ...


GROUP = "transport"


@rule(
    "WIRE-PROTOCOL",
    Grade.MUST,
    group=GROUP,
    text="A target in another process speaks the protocol of docs/protocol.md: one JSON-RPC "
    "2.0 message per line on stdout and nothing else there, every message accepted by the "
    "schema, known methods only, completions naming an initiate or request in flight and "
    "blocks of its tree, no message over the size limit.",
    source="rules.md 6; docs/protocol.md",
    judges=("initiate", "request"),
)
def wire_protocol(facts: _Judged, out: RuleOutcome) -> None:
    observation = facts.observation
    if observation.transport is None:
        return  # an in-process target has no wire (and the rule is not applicable)
    out.hit()
    for text in observation.wire_errors:
        out.violate(
            0,
            text,
            "only messages of docs/protocol.md on stdout, one per line (logs go to stderr)",
            f"sent by the {observation.transport} target during {observation.label}",
        )
