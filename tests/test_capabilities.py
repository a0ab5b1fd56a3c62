"""OffloadCapabilities validation: the error names the field and the value."""

from __future__ import annotations

import pytest

from pytest_offload import CapabilityError, OffloadCapabilities


def test_defaults_are_valid_and_permissive() -> None:
    caps = OffloadCapabilities(tcp_connection_offload_capacity=8)
    assert caps.ndis_version == (6, 20)
    assert caps.nonzero_interface_vlans == frozenset()
    assert caps.as_dict()["interface_vlan_ids"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tcp_connection_offload_capacity": -1}, "tcp_connection_offload_capacity=-1"),
        ({"tcp_connection_offload_capacity": 1.5}, "tcp_connection_offload_capacity=1.5"),
        ({"tcp_connection_offload_capacity": 1, "interface_vlan_ids": {4096}}, "contains 4096"),
        (
            {"tcp_connection_offload_capacity": 1, "interface_vlan_ids": [1]},
            "interface_vlan_ids=[1]",
        ),
        ({"tcp_connection_offload_capacity": 1, "neighbor_capacity": -2}, "neighbor_capacity=-2"),
        ({"tcp_connection_offload_capacity": 1, "ndis_version": (5, 1)}, "ndis_version=(5, 1)"),
        ({"tcp_connection_offload_capacity": 1, "ndis_version": "6.20"}, "ndis_version='6.20'"),
        ({"tcp_connection_offload_capacity": 1, "support_ipv4": 1}, "support_ipv4=1"),
        (
            {"tcp_connection_offload_capacity": 1, "support_ipv4": False, "support_ipv6": False},
            "at least one of",
        ),
        (
            {"tcp_connection_offload_capacity": 1, "max_path_mtu": 1 << 32},
            "max_path_mtu=4294967296",
        ),
    ],
)
def test_invalid_declaration_names_field_and_value(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(
        CapabilityError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        OffloadCapabilities(**kwargs)  # type: ignore[arg-type]


def test_interface_vlans_are_frozen() -> None:
    caps = OffloadCapabilities(tcp_connection_offload_capacity=1, interface_vlan_ids={0, 7})  # type: ignore[arg-type]  # a plain set is accepted too
    assert caps.interface_vlan_ids == frozenset({0, 7})
    assert caps.nonzero_interface_vlans == frozenset({7})
