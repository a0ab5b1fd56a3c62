"""What an offload target declares about itself, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pytest_offload.model._lifecycle import OffloadOperation

__all__ = ["CapabilityError", "OffloadCapabilities"]

_ULONG_MAX = 0xFFFFFFFF


class CapabilityError(ValueError):
    """A declared capability is out of range; the message names the field and the value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OffloadCapabilities:
    """The declaration the suite judges a target against.

    The first four fields mirror ``NDIS_TCP_CONNECTION_OFFLOAD``; the rest are limits the
    NDIS structure has no field for, which the target states so that the suite can judge
    its cause codes (rules.md section 2).

    Attributes:
        tcp_connection_offload_capacity: Most TCP connections offloaded at once (IPv4 and
            IPv6 together).
        support_ipv4: Whether IPv4 paths can be offloaded.
        support_ipv6: Whether IPv6 paths can be offloaded.
        ndis_version: NDIS version the target implements, e.g. ``(6, 20)``;
            ``OFFLOAD_CONNECTION_REJECTED`` needs 6.20 or later.
        max_initial_rcv_wnd: Largest ``initial_rcv_wnd`` accepted; larger gets
            ``OFFLOAD_TCP_RCV_WINDOW``.
        max_path_mtu: Largest ``path_mtu`` accepted; larger gets ``OFFLOAD_PATH_MTU``.
        interface_vlan_ids: VLAN IDs configured on the interface; empty or ``{0}`` means
            none.
        vlan_capacity: How many distinct non-zero VLAN IDs the target can track.
        configurable_source_mac: Whether a neighbor may carry its own source MAC.
        source_mac_capacity: How many distinct source MACs the target can hold.
        neighbor_capacity: Most neighbors offloaded at once, ``None`` when not declared.
        path_capacity: Most paths offloaded at once, ``None`` when not declared.
        operations: The handlers it implements (lifecycle.md section 1), like the
            non-NULL members of ``NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS``;
            any beyond ``INITIATE`` must include ``TERMINATE``. Operations not declared
            are never requested, and the rules needing them are not applicable.
    """

    tcp_connection_offload_capacity: int
    support_ipv4: bool = True
    support_ipv6: bool = True
    ndis_version: tuple[int, int] = (6, 20)
    max_initial_rcv_wnd: int = _ULONG_MAX
    max_path_mtu: int = _ULONG_MAX
    interface_vlan_ids: frozenset[int] = field(default_factory=frozenset)
    vlan_capacity: int = 4094
    configurable_source_mac: bool = False
    source_mac_capacity: int = 0
    neighbor_capacity: int | None = None
    path_capacity: int | None = None
    operations: frozenset[OffloadOperation] = frozenset({OffloadOperation.INITIATE})

    def __post_init__(self) -> None:
        for name in ("support_ipv4", "support_ipv6", "configurable_source_mac"):
            _require_bool(name, getattr(self, name))
        for name in (
            "tcp_connection_offload_capacity",
            "max_initial_rcv_wnd",
            "max_path_mtu",
            "vlan_capacity",
            "source_mac_capacity",
        ):
            _require_ulong(name, getattr(self, name))
        for name in ("neighbor_capacity", "path_capacity"):
            value = getattr(self, name)
            if value is not None:
                _require_ulong(name, value)
        if not (self.support_ipv4 or self.support_ipv6):
            raise CapabilityError(
                "support_ipv4=False and support_ipv6=False: NDIS requires at least one of "
                "IPv4 and IPv6 to be supported"
            )
        version = self.ndis_version
        if (
            not isinstance(version, tuple)
            or len(version) != 2
            or not all(isinstance(part, int) and not isinstance(part, bool) for part in version)
            or version < (6, 0)
        ):
            raise CapabilityError(
                f"ndis_version={version!r}: expected a (major, minor) tuple of ints, "
                "at least (6, 0), e.g. (6, 20)"
            )
        vlan_ids = self.interface_vlan_ids
        if not isinstance(vlan_ids, (set, frozenset)):
            raise CapabilityError(
                f"interface_vlan_ids={vlan_ids!r}: expected a set of VLAN IDs (0..4095)"
            )
        for vlan in sorted(vlan_ids, key=repr):
            if not isinstance(vlan, int) or isinstance(vlan, bool) or not 0 <= vlan <= 4095:
                raise CapabilityError(
                    f"interface_vlan_ids contains {vlan!r}: a VLAN ID is an int in 0..4095"
                )
        object.__setattr__(self, "interface_vlan_ids", frozenset(vlan_ids))
        _check_operations(self.operations)
        object.__setattr__(self, "operations", frozenset(self.operations))

    def declares(self, operation: OffloadOperation) -> bool:
        """Whether the target implements ``operation``."""
        return operation in self.operations

    @property
    def nonzero_interface_vlans(self) -> frozenset[int]:
        """The interface's VLAN IDs other than 0 (empty when it has none)."""
        return self.interface_vlan_ids - {0}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, for reports and certificates."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "operations":
                value = [op.value for op in OffloadOperation if op in value]
            elif isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def _require_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise CapabilityError(f"{name}={value!r}: expected True or False")


def _require_ulong(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CapabilityError(f"{name}={value!r}: expected an int in 0..{_ULONG_MAX}")
    if not 0 <= value <= _ULONG_MAX:
        raise CapabilityError(f"{name}={value}: must be in 0..{_ULONG_MAX} (a ULONG)")


def _check_operations(operations: object) -> None:
    names = ", ".join(op.name for op in OffloadOperation)
    if not isinstance(operations, (set, frozenset)) or not all(
        isinstance(op, OffloadOperation) for op in operations
    ):
        raise CapabilityError(
            f"operations={operations!r}: expected a set of OffloadOperation ({names})"
        )
    if OffloadOperation.INITIATE not in operations:
        raise CapabilityError(
            "operations lacks INITIATE: every offload target implements initiate"
        )
    if len(operations) > 1 and OffloadOperation.TERMINATE not in operations:
        declared = ", ".join(op.name for op in OffloadOperation if op in operations)
        raise CapabilityError(
            f"operations={{{declared}}} lacks TERMINATE: a target with lifecycle operations "
            "must implement terminate (every lifecycle sequence ends in terminates, and NDIS "
            "registers all five handlers together)"
        )
