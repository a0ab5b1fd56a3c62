"""The native child parses an initiate's links, state indices and pointers from their
JSON text in C (harness.c: pyo_json_positions, pyo_json_pointers); what it reads must be
what the Python conversion of the decoded lists reads, and anything the schema does not
allow must be a WireError naming the entry, never a value nobody sent."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_offload.harness.transports.codec import WireError
from pytest_offload.harness.transports.native._build import build_harness
from pytest_offload.harness.transports.native._columns import _pointers, _positions
from pytest_offload.harness.transports.native._library import Library
from tests.test_native import GCC

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.harness_only(str(build_harness()))


positions = st.integers(1, 50).flatmap(
    lambda limit: st.tuples(
        st.just(limit), st.lists(st.none() | st.integers(0, limit - 1), min_size=1, max_size=60)
    )
)
pointers = st.lists(
    st.none()
    | st.builds(
        lambda v, digits, upper: f"0x{v % 16**digits:0{digits}x}".replace(
            "x", "X" if upper else "x"
        ),
        st.integers(0, 2**64 - 1),
        st.integers(1, 16),
        st.booleans(),
    ),
    min_size=1,
    max_size=60,
)


@given(positions, st.booleans())
def test_positions_parsed_from_json_are_the_decoded_lists(
    library: Library, given_positions: tuple[int, list[int | None]], spaced: bool
) -> None:
    limit, column = given_positions
    text = msgspec.json.encode(column)
    if spaced:
        text = b" " + text.replace(b",", b" ,\n ") + b"\t"
    n = len(column)
    assert _positions(library, msgspec.Raw(text), n, limit, "x") == _positions(
        library, column, n, limit, "x"
    )


@given(pointers)
def test_pointers_parsed_from_json_are_the_decoded_lists(
    library: Library, column: list[str | None]
) -> None:
    n = len(column)
    raw = _pointers(library, msgspec.Raw(msgspec.json.encode(column)), n)
    assert raw == _pointers(library, column, n)
    assert raw is not None
    assert list(raw[0]) == [0 if t is None else int(t, 16) for t in column]
    assert raw[1] == bytes(t is not None for t in column)


@pytest.mark.parametrize(
    ("text", "n", "says"),
    [
        (b"[0,1,2]", 3, "entry 2 is 2"),  # the limit is 2
        (b"[0,-1]", 2, "entry 1 is -1"),
        (b"[0,1.0]", 2, "entry 1"),
        (b"[0,01]", 2, "entry 1"),
        (b'[0,"1"]', 2, "entry 1"),
        (b"[0,1]", 3, "not a JSON array of 3"),  # too few
        (b"[0,1,0]", 2, "not a JSON array of 2"),  # too many
        (b"{}", 2, "not a JSON array of 2"),
        (b"[0,nul]", 2, "entry 1"),
        (b"[0,1] x", 2, "not a JSON array"),
        (b"[0,99999999999999999]", 2, "entry 1"),
    ],
)
def test_a_malformed_position_column_is_a_wire_error_naming_the_entry(
    library: Library, text: bytes, n: int, says: str
) -> None:
    with pytest.raises(WireError, match=says):
        _positions(library, msgspec.Raw(text), n, 2, "next_block position")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (b'["0x1","0x"]', "entry 1"),
        (b'["0x1","0x' + b"1" * 17 + b'"]', "entry 1"),
        (b'["0x1","1"]', "entry 1"),
        (b'["0x1",1]', "entry 1"),
        (b'["0x1","0xg"]', "entry 1"),
        (b'["0x1","0x1 "]', "entry 1"),
        (b'["0x1"]', "not a JSON array of 2"),
        (b'["0x1","0x2","0x3"]', "not a JSON array of 2"),
    ],
)
def test_a_malformed_pointer_column_is_a_wire_error_naming_the_entry(
    library: Library, text: bytes, says: str
) -> None:
    with pytest.raises(WireError, match=says):
        _pointers(library, msgspec.Raw(text), 2)
