"""Status rules: allowed codes, success and partial success, linkers, placeholders, subtrees."""

from __future__ import annotations

from itertools import compress
from operator import not_
from typing import TYPE_CHECKING

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule
from pytest_offload.model import (
    INITIATE_CODES,
    NdisStatus,
    NeighborOffloadState,
    Role,
    format_status,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts

MUST, SHOULD = Grade.MUST, Grade.SHOULD
GROUP = "status"
SRC_CODES = "domain.md 3 [C:returning-completion-status-of-an-initiate-offload-operation]"
SRC_PARTIAL = "domain.md 4.2 [C:partial-offloads-and-offload-failures]"
SRC_ROLES = "domain.md 1.4 [C:placeholders--linkers--and-new-offloads]"

SUCCESS = int(NdisStatus.SUCCESS)
PARTIAL = int(NdisStatus.OFFLOAD_PARTIAL_SUCCESS)
FAILURE = int(NdisStatus.FAILURE)
ALLOWED = INITIATE_CODES
PENDING = int(NdisStatus.PENDING)


def _partial_blocks(facts: InitiateFacts) -> list[int]:
    """Every block with OFFLOAD_PARTIAL_SUCCESS: found among the blocks with dependents
    when that is where they all are, as they should be."""
    found = facts.internal_with(PARTIAL)
    if len(found) == facts.count_of(PARTIAL):
        return found
    return facts.with_code(PARTIAL)


@rule(
    "INI-STATUS-ALLOWED",
    MUST,
    group=GROUP,
    text="Every status is an allowed initiate code: the 16 codes of domain.md section 3; "
    "OFFLOAD_CONNECTION_REJECTED only when ndis_version >= (6, 20).",
    source=f"{SRC_CODES}, [R:ns-ndischimney-_ndis_miniport_offload_block_list]",
)
def status_allowed(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.completed:
        return
    out.hit()
    # PENDING is INI-STATUS-WRITTEN's; CONNECTION_REJECTED's version is judged by
    # INI-CONNECTION-REJECTED-VERSION, so each defect is reported once.
    for i in facts.not_allowed():
        out.violate(
            i,
            format_status(facts.raw_statuses[i]),
            "one of the 16 initiate completion codes (SUCCESS, OFFLOAD_PARTIAL_SUCCESS "
            "or a failure code of domain.md section 3)",
        )


@rule(
    "INI-SUCCESS-ALL-DEPENDENTS",
    MUST,
    group=GROUP,
    text="SUCCESS on a new offload or linker means every immediate dependent is offloaded.",
    source=SRC_CODES,
)
def success_all_dependents(facts: InitiateFacts, out: RuleOutcome) -> None:
    roles = facts.snapshot.roles
    success = facts.internal_with(SUCCESS)
    placeholder = Role.PLACEHOLDER
    if _has_parent_of_dependents(facts):
        out.hit()
    complete = facts.all_dependents_offloaded(success)
    for i in compress(success, map(not_, complete)):
        if roles[i] is placeholder:
            continue
        child = facts.first_not_offloaded(i)
        if child is not None:
            out.violate(
                i,
                "SUCCESS",
                "OFFLOAD_PARTIAL_SUCCESS"
                if roles[i] is Role.NEW_OFFLOAD
                else NdisStatus(linker_expected(facts, i)).name,
                f"immediate dependent {facts.snapshot.path(child)} is "
                f"{format_status(facts.raw_statuses[child])}, not offloaded",
            )


@rule(
    "INI-PARTIAL-NEEDS-FAILED-DEPENDENT",
    MUST,
    group=GROUP,
    text="OFFLOAD_PARTIAL_SUCCESS means at least one immediate dependent failed "
    "(so never on a block without dependents).",
    source=SRC_CODES,
)
def partial_needs_failed_dependent(facts: InitiateFacts, out: RuleOutcome) -> None:
    dependents = facts.snapshot.dependents
    codes = facts.codes
    partial = _partial_blocks(facts)
    if len(facts.placeholders) < facts.n:
        out.hit()  # any non-placeholder block could be answered PARTIAL
    # A PARTIAL block with a dependent that is not offloaded is fine: judge only the rest.
    for i in compress(partial, facts.all_dependents_offloaded(partial)):
        children = dependents[i]
        if not children:
            out.violate(i, "OFFLOAD_PARTIAL_SUCCESS on a block without dependents", "SUCCESS")
            continue
        if any(codes[c] == PARTIAL for c in children):
            continue  # reported as INI-PARTIAL-IS-OFFLOADED, the more precise finding
        out.violate(
            i,
            "OFFLOAD_PARTIAL_SUCCESS while every immediate dependent is offloaded",
            "SUCCESS",
        )


@rule(
    "INI-PARTIAL-IS-OFFLOADED",
    MUST,
    group=GROUP,
    text="A PARTIAL dependent counts as offloaded for its parent; only immediate dependents "
    "decide a block's status.",
    source=f"{SRC_PARTIAL} (Path1 PARTIAL counts as offloaded for Neighbor1)",
    reading=True,
)
def partial_is_offloaded(facts: InitiateFacts, out: RuleOutcome) -> None:
    snapshot = facts.snapshot
    roles, dependents, parents = snapshot.roles, snapshot.dependents, snapshot.parents
    codes = facts.codes
    with_partial_child = set(map(parents.__getitem__, _partial_blocks(facts)))
    with_partial_child.discard(-1)
    placeholder = Role.PLACEHOLDER
    judged = sorted(i for i in with_partial_child if roles[i] is not placeholder)
    parents = facts.snapshot.parents
    if any(parents[i] >= 0 for i in facts.internal):
        out.hit()  # a block whose dependent has dependents of its own
    partial = [i for i in judged if codes[i] == PARTIAL]
    for i in compress(partial, facts.all_dependents_offloaded(partial)):
        partial_children = [c for c in dependents[i] if codes[c] == PARTIAL]
        out.violate(
            i,
            "OFFLOAD_PARTIAL_SUCCESS",
            "SUCCESS",
            f"{facts.snapshot.path(partial_children[0])} is OFFLOAD_PARTIAL_SUCCESS, "
            "which counts as offloaded; a failure further up does not reach this block",
        )


def linker_expected(facts: InitiateFacts, position: int) -> int:
    """The status a linker must carry given its immediate dependents (INI-LINKER-STATUS)."""
    children = facts.snapshot.dependents[position]
    if not children:
        return SUCCESS  # [reading]: the host should not send such a linker
    done = sum(map(facts.is_offloaded, children))
    if done == len(children):
        return SUCCESS
    return FAILURE if done == 0 else PARTIAL


@rule(
    "INI-LINKER-STATUS",
    MUST,
    group=GROUP,
    text="A linker is SUCCESS when all immediate dependents are offloaded, PARTIAL when some "
    "failed, FAILURE when all failed (a linker without dependents: SUCCESS).",
    source=SRC_ROLES,
    reading=True,
)
def linker_status(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.linkers:
        return
    malformed_ancestor = facts.malformed_ancestor
    failed_ancestor = facts.failed_ancestor
    unknown = set(facts.unknown_linkers)
    for i in facts.linkers:
        if malformed_ancestor[i] >= 0 or failed_ancestor[i] >= 0:
            continue  # FAILURE is due there; INI-MALFORMED-TREE and INI-FAILED-SUBTREE judge it
        if i in unknown:
            continue  # INI-UNKNOWN-LINKER's
        out.hit()
        code = facts.codes[i]
        expected = linker_expected(facts, i)
        if code == expected:
            continue
        out.violate(
            i,
            format_status(facts.raw_statuses[i]),
            format_status(expected),
            f"{sum(map(facts.is_offloaded, facts.snapshot.dependents[i]))} of "
            f"{len(facts.snapshot.dependents[i])} immediate dependents offloaded",
        )


@rule(
    "INI-PLACEHOLDER-SUCCESS",
    MUST,
    group=GROUP,
    text="A placeholder is always SUCCESS.",
    source=SRC_ROLES,
    reading=True,
)
def placeholder_success(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not facts.completed:
        return
    out.hit(len(facts.placeholders))
    for i in facts.placeholders:
        if facts.codes[i] not in {SUCCESS, PENDING}:
            out.violate(i, format_status(facts.raw_statuses[i]), "SUCCESS (placeholder)")


@rule(
    "INI-FAILED-SUBTREE",
    MUST,
    group=GROUP,
    text="Under a failed block nothing is offloaded: every block in its dependent subtree "
    "is failed.",
    source=f"{SRC_PARTIAL} (TCP3 under failed Path2)",
)
def failed_subtree(facts: InitiateFacts, out: RuleOutcome) -> None:
    if _has_parent_of_dependents(facts):
        out.hit()
    abandoned = facts.abandoned()
    if not abandoned:
        return
    failed_ancestor = facts.failed_ancestor
    hit_parents: set[int] = set()
    for i in abandoned:
        ancestor = failed_ancestor[i]
        hit_parents.add(ancestor)
        if facts.is_offloaded(i):
            out.violate(
                i,
                format_status(facts.raw_statuses[i]),
                "a failure status (FAILURE: not attempted)",
                f"ancestor {facts.snapshot.path(ancestor)} failed with "
                f"{format_status(facts.raw_statuses[ancestor])}",
            )


@rule(
    "INI-FAILED-SUBTREE-FAILURE",
    SHOULD,
    group=GROUP,
    text="Blocks not attempted because an ancestor failed carry exactly FAILURE "
    "(the documented example).",
    source=f"{SRC_PARTIAL}; domain.md 7.1",
    reading=True,
)
def failed_subtree_failure(facts: InitiateFacts, out: RuleOutcome) -> None:
    # Opportunity: a block below a new offload or an unknown linker (either may fail).
    roles, unknown = facts.snapshot.roles, facts.unknown_linkers
    if any(roles[i] is Role.NEW_OFFLOAD or i in unknown for i in facts.internal):
        out.hit()
    abandoned = facts.abandoned()
    if not abandoned:
        return
    failed_ancestor = facts.failed_ancestor
    for i in abandoned:
        ancestor = failed_ancestor[i]
        code = facts.codes[i]
        if facts.is_failed(i) and code != FAILURE:
            out.violate(
                i,
                format_status(facts.raw_statuses[i]),
                "FAILURE (not attempted)",
                f"ancestor {facts.snapshot.path(ancestor)} failed; the documented example "
                "gives its dependents FAILURE, not a cause code of their own",
            )


def _has_parent_of_dependents(facts: InitiateFacts) -> bool:
    """Whether a new offload or linker has a dependent (stops at the first)."""
    roles = facts.snapshot.roles
    placeholder = Role.PLACEHOLDER
    return any(roles[i] is not placeholder for i in facts.internal)


def _offers_root_siblings(facts: InitiateFacts) -> bool:
    """A root neighbor the declaration predicts to fail, then a sibling within it."""
    predicted = False
    for i in facts.snapshot.roots:
        if not predicted:
            predicted = predicted_neighbor_failure(facts, i) is not None
        elif benign_neighbor(facts, i):
            return True
    return False


def predicted_neighbor_failure(facts: InitiateFacts, position: int) -> str | None:
    """A cause the declaration predicts for a new neighbor, or ``None`` (INI-ROOT-SIBLINGS)."""
    state = facts.snapshot.image.states[position]
    if not isinstance(state, NeighborOffloadState):
        return None
    caps = facts.capabilities
    vlan = state.const.vlan_id
    interface = caps.nonzero_interface_vlans
    if vlan != 0 and interface and vlan not in interface:
        return f"vlan_id {vlan} is not among the interface VLAN IDs {sorted(interface)}"
    if state.const.has_source_mac and not caps.configurable_source_mac:
        return "a non-zero dl_source_address on a target without configurable source MACs"
    return None


def benign_neighbor(facts: InitiateFacts, position: int) -> bool:
    """A new neighbor no declared limit can refuse: VLAN 0 and no own source MAC."""
    state = facts.snapshot.image.states[position]
    return (
        facts.snapshot.roles[position] is Role.NEW_OFFLOAD
        and position not in facts.malformed
        and isinstance(state, NeighborOffloadState)
        and state.const.vlan_id == 0
        and not state.const.has_source_mac
    )


@rule(
    "INI-ROOT-SIBLINGS",
    SHOULD,
    group=GROUP,
    text="A failed root abandons only its own subtree: when a root neighbor fails for a cause "
    "the declaration predicts (VLAN mismatch, unsupported source MAC), a next_block sibling "
    "subtree within the declaration is still offloaded on a fresh target.",
    source=f"{SRC_PARTIAL}; domain.md 7.2",
    reading=True,
)
def root_siblings(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not (facts.batch.fresh and facts.completed):
        return
    snapshot = facts.snapshot
    roots = snapshot.roots
    capacity = facts.capabilities.neighbor_capacity
    if _offers_root_siblings(facts):
        out.hit()  # counted whether the first root fails or not (rules.md 4.1)
    failed_root: int | None = None
    offloaded_before = 0
    for i in roots:
        if failed_root is None:
            if facts.is_failed(i) and predicted_neighbor_failure(facts, i) is not None:
                failed_root = i
        elif (
            benign_neighbor(facts, i)
            and (capacity is None or offloaded_before < capacity)
            and not facts.is_offloaded(i)
        ):
            out.violate(
                i,
                format_status(facts.raw_statuses[i]),
                "offloaded (SUCCESS or OFFLOAD_PARTIAL_SUCCESS)",
                f"root sibling {snapshot.path(failed_root)} failed "
                f"({predicted_neighbor_failure(facts, failed_root)}); that abandons "
                "only its own subtree",
            )
        if facts.is_offloaded(i) and facts.snapshot.roles[i] is Role.NEW_OFFLOAD:
            offloaded_before += 1


def _abnormal_end(facts: InitiateFacts) -> str | None:
    """How an initiate holding a robustness case ended abnormally (a raise, no completion),
    as the finding of that case's rule (rules.md section 3), or ``None``."""
    raised = facts.observation.raised
    if raised is not None:
        return f"initiate_offload raised {raised}"
    if not facts.completed:
        return f"no completion within {facts.observation.timeout:g} s"
    return None


def _answer_garbled(facts: InitiateFacts) -> bool:
    """Whether the initiate's answer was rejected on the wire (no completion, no crash):
    WIRE-PROTOCOL's finding alone, one defect, one finding (docs/protocol.md, Isolation),
    not a hang for the robustness rules to report."""
    obs = facts.observation
    return not facts.completed and obs.raised is None and bool(obs.wire_errors)


@rule(
    "INI-MALFORMED-TREE",
    SHOULD,
    group=GROUP,
    text="A structurally bad tree (a TCP block with dependents, a next_block into another "
    "layer, an unknown type, a new offload without state, a new path or TCP block whose "
    "parent is a placeholder) completes normally, with FAILURE on the offending block and "
    "its subtree.",
    source="domain.md 7.13, 7.14",
    reading=True,
)
def malformed_tree(facts: InitiateFacts, out: RuleOutcome) -> None:
    malformed = facts.malformed
    if not malformed:
        return
    out.hit(len(malformed))
    if _answer_garbled(facts):
        return
    ended = _abnormal_end(facts)
    if ended is not None:
        top = min(malformed)
        out.violate(
            top,
            ended,
            "FAILURE on the offending block, and a normal completion",
            malformed[top],
        )
        return
    roles = facts.snapshot.roles
    inherited = facts.malformed_ancestor
    for i in compress(range(facts.n), map((-1).__ne__, inherited)):
        top = inherited[i]
        if roles[i] is Role.PLACEHOLDER or facts.codes[i] == FAILURE:
            continue
        if top != i and facts.is_failed(top):
            continue  # INI-FAILED-SUBTREE(-FAILURE) judge the dependents of a failed block
        why = malformed[top] if top == i else f"inside {facts.snapshot.path(top)}"
        out.violate(i, format_status(facts.raw_statuses[i]), "FAILURE (malformed)", why)


@rule(
    "INI-UNKNOWN-LINKER",
    SHOULD,
    group=GROUP,
    text="An unknown linker (a linker naming no object of its layer that this target "
    "offloaded and still holds) completes with FAILURE, and nothing beneath it is "
    "offloaded (its subtree is FAILURE, placeholders aside): the target neither trusts nor "
    "dereferences a context it never handed out.",
    source="rules.md 3 (unknown linkers, robustness cases), domain.md 1.4",
    reading=True,
)
def unknown_linker(facts: InitiateFacts, out: RuleOutcome) -> None:
    unknown = facts.unknown_linkers
    if not unknown:
        return
    out.hit()
    if _answer_garbled(facts):
        return
    ended = _abnormal_end(facts)
    if ended is not None:
        if facts.malformed:
            return  # INI-MALFORMED-TREE reports the crash or hang of a malformed tree
        out.violate(
            unknown[0],
            ended,
            "FAILURE on the unknown linker, and a normal completion",
            "a robustness case: the linker names a context this target never handed out",
        )
        return
    malformed = facts.malformed_ancestor
    for i in unknown:
        if malformed[i] >= 0:
            continue  # INI-MALFORMED-TREE's
        code = facts.codes[i]
        if code == FAILURE or code not in ALLOWED:
            continue  # correct, or INI-STATUS-WRITTEN/-ALLOWED's finding
        out.violate(
            i,
            format_status(facts.raw_statuses[i]),
            "FAILURE",
            "the linker names a context this target never handed out (or no longer holds)",
        )
