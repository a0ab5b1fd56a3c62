"""NDIS status values and their classes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_offload import NdisStatus, format_status, initiate_codes, is_failed, is_offloaded
from pytest_offload.model import FAILURE_CODES, INITIATE_CODES

S = NdisStatus


def test_values_come_from_the_public_headers() -> None:
    assert int(S.SUCCESS) == 0
    assert int(S.PENDING) == 0x103
    assert int(S.OFFLOAD_PARTIAL_SUCCESS) == 0x40020004
    assert int(S.FAILURE) == 0xC0000001
    assert int(S.RESOURCES) == 0xC000009A
    assert int(S.OFFLOAD_TCP_ENTRIES) == 0xC0231004
    assert int(S.OFFLOAD_VLAN_MISMATCH) == 0xC023100D
    assert int(S.OFFLOAD_CONNECTION_REJECTED) == 0xC0231012
    assert int(S.OFFLOAD_PATH_REJECTED) == 0xC0231013


def test_path_mtu_reading_is_an_error_code_with_the_customer_bit() -> None:
    value = int(S.OFFLOAD_PATH_MTU)
    assert value == 0xE0231014
    assert value >> 30 == 0b11  # error severity
    assert value & 0x20000000  # customer bit: never a Microsoft code
    assert (value >> 16) & 0xFFF == 0x023  # facility NDIS
    assert value & 0xFFFF == 0x1014


def test_there_are_sixteen_initiate_codes() -> None:
    assert len(INITIATE_CODES) == 16
    assert S.PENDING not in INITIATE_CODES
    assert all(int(code) >> 30 == 0b11 for code in FAILURE_CODES)


def test_connection_rejected_needs_ndis_620() -> None:
    assert S.OFFLOAD_CONNECTION_REJECTED not in initiate_codes((6, 1))
    assert S.OFFLOAD_CONNECTION_REJECTED in initiate_codes((6, 20))
    assert len(initiate_codes((6, 0))) == 15


@pytest.mark.parametrize(
    ("value", "offloaded", "failed"),
    [
        (S.SUCCESS, True, False),
        (S.OFFLOAD_PARTIAL_SUCCESS, True, False),
        (S.FAILURE, False, True),
        (S.OFFLOAD_PATH_MTU, False, True),
        (S.PENDING, False, False),
        (S.UPLOAD_IN_PROGRESS, False, False),
        (0, True, False),
        (True, False, False),
        ("SUCCESS", False, False),
        (None, False, False),
    ],
)
def test_classification(value: object, offloaded: bool, failed: bool) -> None:
    assert is_offloaded(value) is offloaded
    assert is_failed(value) is failed


def test_format_status_names_known_and_unknown_values() -> None:
    assert format_status(S.OFFLOAD_TCP_ENTRIES) == "OFFLOAD_TCP_ENTRIES (0xC0231004)"
    assert format_status(0xC0231004) == "OFFLOAD_TCP_ENTRIES (0xC0231004)"
    assert format_status(7) == "unknown status 0x00000007"
    assert "out-of-range" in format_status(-1)
    assert "non-integer" in format_status(1.5)


@given(st.one_of(st.integers(), st.text(), st.none(), st.floats(), st.binary()))
def test_any_value_a_target_writes_can_be_classified_and_shown(value: object) -> None:
    assert isinstance(format_status(value), str)
    assert not (is_offloaded(value) and is_failed(value))
