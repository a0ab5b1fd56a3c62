"""Scalars on the wire: 32-bit statuses, pointers as strings, and the table that names
the suite's Python objects by made-up pointers and maps them back.

Every other module of the codec converts whole columns with these.
"""

from __future__ import annotations

import operator
import re
import sys
from array import array
from itertools import repeat
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports._messages import POINTER_PATTERN
from pytest_offload.model import NdisStatus, context_key

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "FAKE_BASE",
    "SERVE_BASE",
    "PointerTable",
    "WireError",
    "fixed_width_pointers",
    "pointer_from_wire",
    "pointers_from_wire",
    "status_from_wire",
]

_WORD = 2**64
_MEMBERS: dict[int, NdisStatus] = {int(m): m for m in NdisStatus}
#: Where the pointers the suite makes up for Python objects (handles, unknown linkers) live:
#: far from user-mode addresses and from small integers a simulator may use as contexts.
FAKE_BASE = 0xFEED_0000_0000_0000
#: The same, for the contexts a served Python target makes (``pytest-offload serve``):
#: another range, so that the two sides' made-up pointers never meet.
SERVE_BASE = 0xC0DE_0000_0000_0000


class WireError(Exception):
    """Something a target sent breaks the protocol; the message quotes what and where."""


def status_from_wire(value: int) -> object:
    """A 32-bit status (a negative C ``int`` masked to its unsigned value), as the enum
    member when NDIS defines it."""
    value &= 0xFFFFFFFF
    return _MEMBERS.get(value, value)


def pointer_from_wire(text: str) -> int:
    """The value of a pointer string (``0x`` and 1 to 16 hex digits, the schema's form).

    Raises:
        WireError: any other string.
    """
    return pointers_from_wire([text])[0]


_POINTERS = re.compile(r"(?:0[xX][0-9a-fA-F]{1,16}\n)*")


_HEX_DIGITS = b"0123456789abcdefABCDEF"
_X_TO_ZERO = bytes.maketrans(b"x", b"0")


def fixed_width_pointers(texts: list[str]) -> list[int] | None:
    """The values of pointer strings that all have the same width (``0x`` and the same
    number of hex digits, as a target's contexts usually have), in whole-column passes;
    ``None`` when they do not or when any is not a pointer (the caller's general parser
    then names the bad one)."""
    count = len(texts)
    try:
        width = len(texts[0])
        joined = "\n".join(texts)
    except TypeError:
        return None
    if not 3 <= width <= 18 or len(joined) != count * (width + 1) - 1:
        return None
    # A separator every (width + 1)th character; "0x" at the start of each text.
    step = width + 1
    if joined[width::step] != "\n" * (count - 1) or joined[1::step] != "x" * count:
        return None
    if joined[0::step] != "0" * count:
        return None
    try:
        data = joined.encode("ascii")
    except UnicodeEncodeError:
        return None
    # Nothing but hex digits besides those: no other "x", no separator inside a text.
    if data.translate(None, _HEX_DIGITS) != b"x\n" * (count - 1) + b"x":
        return None
    # Hex digits only, an even number a text: "0x" + d digits becomes "0" + d (d odd) or
    # "00" + d (d even); then each text's bytes, big-endian, go into the low end of a word.
    digits = width - 2
    if digits % 2:
        packed = bytes.fromhex(data.translate(None, b"x\n").decode("ascii"))
    else:
        packed = bytes.fromhex(data.translate(_X_TO_ZERO, b"\n").decode("ascii"))
    size = len(packed) // count
    used = min(size, 8)
    out = bytearray(8 * count)
    for j in range(used):
        out[8 - used + j :: 8] = packed[size - used + j :: size]
    words = array("Q")
    words.frombytes(out)
    if sys.byteorder == "little":
        words.byteswap()
    return words.tolist()


def pointers_from_wire(texts: list[str]) -> list[int]:
    """The values of pointer strings, checked against the schema's form in one regular
    expression pass over the whole column.

    Raises:
        WireError: naming the first string that is not a pointer.
    """
    if not texts:
        return []
    fast = fixed_width_pointers(texts)
    if fast is not None:
        return fast
    try:
        if _POINTERS.fullmatch("\n".join(texts) + "\n") is not None:
            return list(map(int, texts, repeat(16)))
    except (TypeError, ValueError):
        pass
    for text in texts:
        if not isinstance(text, str) or not re.fullmatch(POINTER_PATTERN, text):
            raise WireError(
                f"{text!r} is not a pointer: 0x and 1 to 16 hex digits (docs/protocol.md)"
            )
    raise WireError(f"malformed pointers: {texts[:3]!r}")


class PointerTable:
    """The pointer each Python value stands for on the wire, and back.

    An int-like value is its own pointer (rules.md section 3); any other object (an
    ``object()`` handle, a context a Python target made) gets a made-up pointer, stable for
    as long as the table lives, and comes back as the very same object, so a field a target
    echoes unchanged is unchanged.
    """

    def __init__(self, base: int = FAKE_BASE) -> None:
        self._fake: dict[Any, str] = {}
        self._objects: dict[int, object] = {}
        self._next = base
        #: Pointers the other side handed out (so that a made-up one never equals them).
        self.seen: set[int] = set()
        self._seen_lists: list[list[int]] = []

    def to_wire(self, value: object) -> str | None:
        if value is None:
            return None
        if type(value) is object:  # a bare handle object: named by its address
            self._objects[id(value)] = value
            return _HEX(id(value))
        key = context_key(value)
        if key is None:
            return "0x0"
        if type(key) is int and key >= _WORD:
            return f"0x{key - _WORD:x}"
        text = self._fake.get(key)
        if text is None:
            fake = self.fresh()
            text = self._fake[key] = f"0x{fake:x}"
            self._objects[fake] = value
        return text

    def saw(self, values: list[int]) -> None:
        """Pointers the other side handed out (kept as the lists they came in: looked at
        only when a pointer must be made up)."""
        self._seen_lists.append(values)

    def fresh(self) -> int:
        """A pointer value nobody has handed out."""
        if self._seen_lists:
            for values in self._seen_lists:
                self.seen.update(values)
            self._seen_lists.clear()
        while True:
            self._next += 0x10
            if self._next not in self.seen and self._next not in self._objects:
                return self._next

    def from_wire(self, text: str | None) -> object:
        if text is None:
            return None
        value = pointer_from_wire(text)
        found = self._objects.get(value, _MISSING)
        return value if found is _MISSING else found

    def words_to_wire(self, words: object) -> list[str | None]:
        if words == _PAIR:  # the common case: two NULL words
            return [None, None]
        try:
            return [self.to_wire(w) for w in words]  # type: ignore[attr-defined]
        except TypeError:  # not a sequence: a host that never sets such a field
            return [None, None]

    def words_from_wire(self, words: Sequence[str | None]) -> list[object]:
        return [self.from_wire(w) for w in words]


_MISSING = object()
#: Two NULL words, as a reserved array holds them unused (and a snapshot's frozen copy).
_PAIR: list[None] = [None, None]
_PAIR_T = (None, None)


def u32(value: object, default: int = 0) -> int:
    try:
        return operator.index(value) & 0xFFFFFFFF  # type: ignore[arg-type]
    except TypeError:
        return default


_HEX = hex  # "0x..." in lower case, at C speed
