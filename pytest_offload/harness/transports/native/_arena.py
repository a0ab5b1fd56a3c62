"""Tree memory: large buffers recycled instead of mapped afresh for every tree.

A tree of 100,000 blocks is some 37 MB in C memory, and the child holds several buffers
of that size per tree (the tree, the mask of what the target may write, the hand-over
copy, the completion image). Fresh pages are zeroed by the kernel one fault at a time
(on this project's machines some 27 ms for 37 MB, where a memset of memory already
mapped takes 1 ms: benchmarks/RESULTS.md). Buffers of a MiB and more therefore come from
here: once the last view of one is gone (its tree released and past the keep window of
``_runtime``), its memory waits in a bounded free list for the next buffer of the same
size class. Smaller buffers are malloc's, whose heap is warm already.
"""

from __future__ import annotations

import ctypes
import mmap
import threading
import weakref

__all__ = ["copy_of", "zeroed"]

#: Buffers below this size are ctypes' own (malloc).
_LARGE = 1 << 20
#: Sizes are rounded up to whole MiB, so that trees of about one size share buffers.
_CLASS = 1 << 20
#: At most this many bytes wait for reuse; beyond, a buffer is unmapped when let go.
_FREE_BYTES = 512 << 20

_lock = threading.Lock()
_free: dict[int, list[mmap.mmap]] = {}
_free_bytes = 0


def _give_back(region: mmap.mmap, rounded: int) -> None:
    """Called when the last view of ``region`` dies (in whichever thread drops it)."""
    global _free_bytes  # noqa: PLW0603 (the one free list of this process)
    with _lock:
        if _free_bytes + rounded <= _FREE_BYTES:
            _free.setdefault(rounded, []).append(region)
            _free_bytes += rounded
    # Otherwise dropped: unmapped once the view's own reference goes too.


def _view(size: int) -> tuple[ctypes.Array[ctypes.c_char], bool]:
    """A buffer of ``size`` bytes, and whether it is fresh (zeroed by the kernel)."""
    global _free_bytes  # noqa: PLW0603
    rounded = -(-size // _CLASS) * _CLASS
    region = None
    with _lock:
        waiting = _free.get(rounded)
        if waiting:
            region = waiting.pop()
            _free_bytes -= rounded
    fresh = region is None
    if region is None:
        region = mmap.mmap(-1, rounded)
    view = (ctypes.c_char * size).from_buffer(region)
    weakref.finalize(view, _give_back, region, rounded)
    return view, fresh


def zeroed(size: int) -> ctypes.Array[ctypes.c_char]:
    """``size`` zero bytes (``ctypes.create_string_buffer(size)``, recycled when large)."""
    if size < _LARGE:
        return ctypes.create_string_buffer(size)
    view, fresh = _view(size)
    if not fresh:
        ctypes.memset(view, 0, size)
    return view


def copy_of(source: ctypes.Array[ctypes.c_char], size: int) -> ctypes.Array[ctypes.c_char]:
    """A copy of the first ``size`` bytes of ``source``."""
    if size < _LARGE:
        return (ctypes.c_char * size).from_buffer_copy(source)
    view, _ = _view(size)
    ctypes.memmove(view, source, size)
    return view
