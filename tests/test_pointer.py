"""Contexts as pointer values (rules.md section 3): what a slot value stands for."""

from __future__ import annotations

import ctypes

from hypothesis import given
from hypothesis import strategies as st

from pytest_offload.model import context_key


class Handle(int):
    """An int subclass, as a binding's pointer type may be."""


@given(st.integers(-(2**63), 2**64 - 1))
def test_an_int_is_its_value_modulo_2_64_and_zero_is_null(value: int) -> None:
    key = context_key(value)
    assert (key is None) == (value % 2**64 == 0)
    assert context_key(Handle(value)) == key
    assert context_key(value % 2**64) == key


@given(st.one_of(st.integers(max_value=-(2**63) - 1), st.integers(min_value=2**64)))
def test_an_int_outside_a_pointer_is_an_invalid_context(value: int) -> None:
    assert context_key(value) is None


def test_bools_are_invalid_and_none_is_null() -> None:
    assert context_key(True) is None
    assert context_key(False) is None
    assert context_key(None) is None


def test_a_ctypes_pointer_is_the_address_it_holds() -> None:
    assert context_key(ctypes.c_void_p(0x1000)) == context_key(0x1000)
    assert context_key(ctypes.c_void_p(None)) is None


def test_objects_compare_by_identity_and_never_as_their_id() -> None:
    first, second = object(), object()
    assert context_key(first) != context_key(second)
    assert context_key(first) == context_key(first)
    assert context_key(first) != context_key(id(first))


def test_strings_and_bytes_compare_by_value() -> None:
    assert context_key("ctx") == context_key("c" + "tx")
    assert context_key(b"ctx") != context_key("ctx")


def test_a_hostile_index_is_an_invalid_context() -> None:
    class Hostile:
        def __index__(self) -> int:
            raise RuntimeError("no")

    assert context_key(Hostile()) is None
