"""Generation that depends on the seed alone, not on which modules happen to be imported.

Hypothesis (from 6.131) mixes into its draws integer and string literals it finds in the
source of every *local* module loaded so far (not site-packages, not tests). For a
conformance run that makes the cases of a seed depend on the vendor's module, on whether
the suite is installed editable, on whether the reference target was imported in this
process (in-process vs ``exec:pytest-offload serve``), and on the order modules were
loaded: a certificate's seed would not replay its cases elsewhere. The campaign therefore
generates with that pool empty (:func:`stable_generation`); Hypothesis's own global pool of
interesting constants is unchanged. The switch uses a Hypothesis internal and does nothing
when it is absent.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

try:
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
except ImportError:  # another Hypothesis layout: nothing to switch off
    _providers = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["bounded_shrinking", "stable_generation"]

_LOCK = threading.RLock()


@contextlib.contextmanager
def stable_generation() -> Iterator[None]:
    """Within the block, Hypothesis draws no constants from locally imported modules."""
    providers: Any = _providers
    if providers is None:
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache: Any = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or cache is None or not hasattr(cache, "cache"):
        yield
        return
    empty = _Constants()
    with _LOCK:
        providers._get_local_constants = lambda: empty
        cache.cache.clear()  # pools computed with the local constants
        try:
            yield
        finally:
            providers._get_local_constants = original
            cache.cache.clear()


try:
    from hypothesis.internal.conjecture import engine as _engine
except ImportError:  # another Hypothesis layout: shrinking keeps its own limit
    _engine = None  # type: ignore[assignment]


@contextlib.contextmanager
def bounded_shrinking(seconds: float) -> Iterator[None]:
    """Within the block, Hypothesis stops shrinking a failure after ``seconds`` (its own
    limit is 300 s). Each shrink of a lifecycle case runs a whole case on a fresh target:
    a few thousand of them would dominate a run. Uses a Hypothesis internal; a no-op when
    it is absent."""
    engine: Any = _engine
    if engine is None or not hasattr(engine, "MAX_SHRINKING_SECONDS"):
        yield
        return
    with _LOCK:
        original = engine.MAX_SHRINKING_SECONDS
        engine.MAX_SHRINKING_SECONDS = min(original, seconds)
        try:
            yield
        finally:
            engine.MAX_SHRINKING_SECONDS = original
