"""Cause rules: each cause code only on its layer and only where its cause holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule
from pytest_offload.model import (
    CAUSE_CODE_LAYERS,
    LAYERS,
    NdisStatus,
    NeighborOffloadState,
    PathOffloadState,
    Role,
    TcpOffloadState,
    format_status,
    initiate_codes,
    layer_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.catalogue._facts import InitiateFacts

MUST = Grade.MUST
GROUP = "causes"
SRC = "domain.md 3 [C:returning-completion-status-of-an-initiate-offload-operation]"
S = NdisStatus


def _blocks_with(facts: InitiateFacts, code: int) -> list[int]:
    return facts.with_code(int(code))


def _state(facts: InitiateFacts, position: int) -> object:
    return facts.snapshot.image.states[position]


def _offers(facts: InitiateFacts, state_class: type, chance: Callable[[Any], bool]) -> bool:
    """Whether the tree handed over holds a new offload of ``state_class`` for which
    ``chance(state)`` holds: an opportunity (rules.md 4.1), whatever the target answered.
    Stops at the first one found."""
    states = facts.snapshot.image.states
    for i in facts.new_positions:  # new offloads only, by construction
        state = states[i]
        if isinstance(state, state_class) and chance(state):
            return True
    return False


@rule(
    "INI-CODE-LAYER",
    MUST,
    group=GROUP,
    text="Cause codes only on new-offload blocks of their layer: TCP: TCP_ENTRIES, "
    "TCP_XMIT_BUFFER, TCP_RCV_BUFFER, TCP_RCV_WINDOW, CONNECTION_REJECTED; path: "
    "PATH_ENTRIES, IP_ADDRESS_ENTRIES, PATH_MTU; neighbor: NEIGHBOR_ENTRIES, "
    "HW_ADDRESS_ENTRIES, VLAN_ENTRIES, VLAN_MISMATCH. FAILURE and RESOURCES fit any new "
    "offload.",
    source=f"{SRC}; domain.md 7.9",
    reading=True,
)
def code_layer(facts: InitiateFacts, out: RuleOutcome) -> None:
    if len(facts.placeholders) < facts.n:
        out.hit()  # any non-placeholder block could carry a code of another layer
    if facts.present.isdisjoint(CAUSE_CODE_LAYERS):
        return
    snapshot = facts.snapshot
    roles, depths = snapshot.roles, snapshot.depths
    new = Role.NEW_OFFLOAD
    for code in [c for c in CAUSE_CODE_LAYERS if c in facts.present]:
        wanted = CAUSE_CODE_LAYERS[code]
        count = facts.count_of(int(code))
        if not count:
            continue
        depth = LAYERS.index(wanted)
        if facts.new_at_depth_with(int(code), depth) == count:
            continue  # every block with this code is a new offload of its layer
        blocks = facts.with_code(int(code))
        for i in [i for i in blocks if roles[i] is not new or depths[i] != depth]:
            here = layer_name(depths[i])
            out.violate(
                i,
                f"{format_status(code)} on a {here}-layer {roles[i].value} block",
                f"{code.name} only on a new-offload {wanted} block "
                "(FAILURE or RESOURCES elsewhere)",
            )


@rule(
    "INI-HW-ADDRESS-CAUSE",
    MUST,
    group=GROUP,
    text='HW_ADDRESS_ENTRIES only when the neighbor\'s dl_source_address is non-zero ("non-NULL" '
    "read as non-zero).",
    source=f"{SRC}; domain.md 7.11",
    reading=True,
)
def hw_address_cause(facts: InitiateFacts, out: RuleOutcome) -> None:
    # Opportunity: a new neighbor asking for no source MAC of its own.
    if _offers(facts, NeighborOffloadState, lambda s: not s.const.has_source_mac):
        out.hit()
    if S.OFFLOAD_HW_ADDRESS_ENTRIES not in facts.present:
        return
    for i in _blocks_with(facts, S.OFFLOAD_HW_ADDRESS_ENTRIES):
        state = _state(facts, i)
        if not isinstance(state, NeighborOffloadState):
            continue
        if not state.const.has_source_mac:
            out.violate(
                i,
                "OFFLOAD_HW_ADDRESS_ENTRIES with an all-zero dl_source_address",
                "another failure code: the neighbor asks for no source MAC of its own",
            )


@rule(
    "INI-VLAN-MISMATCH-CAUSE",
    MUST,
    group=GROUP,
    text="VLAN_MISMATCH only when vlan_id != 0, the interface has non-zero VLAN IDs, and "
    "vlan_id is not among them; a neighbor with vlan_id 0 or a matching one never gets it.",
    source="domain.md 4.3 "
    "[C:determining-whether-to-fail-an-offload-request-because-of-802-1q-infor]",
)
def vlan_mismatch_cause(facts: InitiateFacts, out: RuleOutcome) -> None:
    interface = facts.capabilities.nonzero_interface_vlans
    # Opportunity: a new neighbor that must not get VLAN_MISMATCH.
    if _offers(
        facts,
        NeighborOffloadState,
        lambda s: s.const.vlan_id == 0 or not interface or s.const.vlan_id in interface,
    ):
        out.hit()
    if S.OFFLOAD_VLAN_MISMATCH not in facts.present:
        return
    for i in _blocks_with(facts, S.OFFLOAD_VLAN_MISMATCH):
        state = _state(facts, i)
        if not isinstance(state, NeighborOffloadState):
            continue
        vlan = state.const.vlan_id
        if vlan == 0 or not interface or vlan in interface:
            why = (
                "vlan_id is 0 (use the interface VLAN)"
                if vlan == 0
                else "the interface has no non-zero VLAN IDs"
                if not interface
                else f"vlan_id {vlan} is configured on the interface"
            )
            out.violate(
                i,
                f"OFFLOAD_VLAN_MISMATCH for vlan_id {vlan}",
                "no VLAN_MISMATCH",
                f"{why}; interface_vlan_ids={sorted(facts.capabilities.interface_vlan_ids)}",
            )


@rule(
    "INI-RCV-WINDOW-CAUSE",
    MUST,
    group=GROUP,
    text="TCP_RCV_WINDOW only when initial_rcv_wnd > max_initial_rcv_wnd.",
    source=SRC,
)
def rcv_window_cause(facts: InitiateFacts, out: RuleOutcome) -> None:
    _over_limit_only(facts, out, S.OFFLOAD_TCP_RCV_WINDOW, TcpOffloadState, "initial_rcv_wnd")


def _over_limit_only(
    facts: InitiateFacts,
    out: RuleOutcome,
    code: S,
    state_class: type[TcpOffloadState | PathOffloadState],
    field: str,
) -> None:
    """``code`` may stand only where the state's cached ``field`` exceeds its declared
    limit, ``max_<field>`` (``max_initial_rcv_wnd``, ``max_path_mtu``). Opportunity: a new
    block of that layer within the limit."""
    limit_name = f"max_{field}"
    limit = getattr(facts.capabilities, limit_name)
    if _offers(facts, state_class, lambda s: getattr(s.cached, field) <= limit):
        out.hit()
    if code not in facts.present:
        return
    for i in _blocks_with(facts, code):
        state = _state(facts, i)
        if not isinstance(state, state_class):
            continue
        value = getattr(state.cached, field)
        if value <= limit:
            out.violate(
                i,
                f"{code.name} for {field} {value}",
                f"no {code.name.removeprefix('OFFLOAD_')}",
                f"{value} <= declared {limit_name} {limit}",
            )


@rule(
    "INI-PATH-MTU-CAUSE",
    MUST,
    group=GROUP,
    text="PATH_MTU only when the path's path_mtu > max_path_mtu.",
    source=f"{SRC}; domain.md 7.7",
)
def path_mtu_cause(facts: InitiateFacts, out: RuleOutcome) -> None:
    _over_limit_only(facts, out, S.OFFLOAD_PATH_MTU, PathOffloadState, "path_mtu")


@rule(
    "INI-CONNECTION-REJECTED-VERSION",
    MUST,
    group=GROUP,
    text="CONNECTION_REJECTED only when ndis_version >= (6, 20).",
    source="domain.md 3 (#if NDIS_SUPPORT_NDIS620), 7.8",
)
def connection_rejected_version(facts: InitiateFacts, out: RuleOutcome) -> None:
    version = facts.capabilities.ndis_version
    if S.OFFLOAD_CONNECTION_REJECTED in initiate_codes(version):
        return  # not applicable: the code exists for this target (the aim says so too)
    out.hit()  # any block is a chance to write a code this NDIS version lacks
    if S.OFFLOAD_CONNECTION_REJECTED not in facts.present:
        return
    for i in _blocks_with(facts, S.OFFLOAD_CONNECTION_REJECTED):
        if S.OFFLOAD_CONNECTION_REJECTED not in initiate_codes(version):
            out.violate(
                i,
                "OFFLOAD_CONNECTION_REJECTED",
                "a code of the declared NDIS version",
                f"the target declares ndis_version={version}; the code exists from 6.20",
            )
