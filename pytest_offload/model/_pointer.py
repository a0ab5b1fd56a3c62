"""Contexts as pointer values (rules.md section 3) [reading].

A ``MiniportOffloadContext`` is a ``PVOID``. Whatever a Python target writes into a slot is
mapped to the pointer it stands for, so that two targets answering alike get the same
verdict whatever Python types they use: ``None`` is NULL; an int-like value (any int
subclass, anything with ``__index__`` such as ``numpy.uint64``, not ``bool``) is its value
modulo 2**64, and 0 is NULL; a ``ctypes`` pointer is the address it holds; ``str`` and
``bytes`` compare by value; any other object by identity (the suite keeps a reference, so
an id is not recycled within a case). A ``bool``, or an int outside -2**63..2**64-1, is an
invalid context. NULL and invalid both mean "no context".
"""

from __future__ import annotations

import ctypes
import operator
from typing import Any, Final

__all__ = ["context_key", "is_object_context_type"]

_WORD: Final = 2**64
#: Added to a pointer value so that pointer keys never equal an object's ``id`` (ids are
#: addresses below 2**64): a target mixing ints and objects is still judged exactly.
_POINTER_BASE: Final = _WORD
_CTYPES_POINTERS = (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p)
_OBJECT_TYPES: dict[type, bool] = {}


def is_object_context_type(kind: type) -> bool:
    """Whether values of ``kind`` are contexts compared by identity (memoised per type)."""
    found = _OBJECT_TYPES.get(kind)
    if found is None:
        found = _OBJECT_TYPES[kind] = not (
            kind is type(None)
            or issubclass(kind, int | str | bytes)
            or hasattr(kind, "__index__")
            or issubclass(kind, _CTYPES_POINTERS)
        )
    return found


def context_key(value: object) -> Any:
    """The pointer a slot value stands for, as a hashable key; ``None`` for NULL or an
    invalid context. Two values are the same context when their keys are equal."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return _pointer(value)  # type: ignore[arg-type]
    if is_object_context_type(kind):
        return id(value)
    if kind is bool:
        return None  # True is no pointer a driver could write
    if isinstance(value, str | bytes):
        return ("=", value)
    if isinstance(value, _CTYPES_POINTERS):
        try:
            address = ctypes.cast(value, ctypes.c_void_p).value
        except Exception:  # a broken ctypes object is an invalid context
            return None
        return _pointer(address or 0)
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except Exception:  # a hostile __index__ makes an invalid context
        return None
    return _pointer(number)


def _pointer(number: int) -> int | None:
    if not -(2**63) <= number < _WORD:
        return None
    number %= _WORD
    return number + _POINTER_BASE if number else None
