"""``--offload-target=native:LIBRARY``: a vendor's shared library, run in a child process.

The suite side of the native transport is the process transport with a known program:
the child (``python -m pytest_offload.harness.transports.native``) loads the library
under the harness library and serves it over the protocol, so a crash, a hang or a
write out of bounds is the child's, judged like any process target's. What is native
here: finding the library, building the harness library, and turning a child that
cannot load the library into a usage error that says why.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from pytest_offload.harness._errors import TargetLoadError
from pytest_offload.harness.transports._process import ProcessTarget, ProcessTargetFactory
from pytest_offload.harness.transports.native._build import BuildError, build_harness

if TYPE_CHECKING:
    from pytest_offload.harness.transports._child import ChildProcess

__all__ = ["NativeTargetFactory", "parse_native"]


def parse_native(spec: str, *, source: str, cwd: str | None = None) -> str:
    """The library path of ``native:PATH`` (relative to ``cwd``), checked to exist."""
    path = spec.strip()[len("native:") :].strip()
    if not path:
        raise TargetLoadError(
            f"offload: {spec!r} given by {source} names no library: "
            "give native:path/to/libvendor.so"
        )
    where = os.path.join(cwd or os.getcwd(), os.path.expanduser(path))
    if not os.path.isfile(where):
        raise TargetLoadError(
            f"offload: the native library {path!r} given by {source} does not exist "
            f"(looked for {where}; build it first, e.g. with the line in docs/native.md)"
        )
    return os.path.abspath(where)


class NativeTarget(ProcessTarget):
    """The target of one case: an adapter of the library, in the child process."""

    offload_transport = "native"


class NativeTargetFactory(ProcessTargetFactory):
    """Creates native targets from one library (see the module docs)."""

    offload_transport = "native"
    target_class = NativeTarget

    def __init__(self, library: str, *, cwd: str | None = None, source: str = "") -> None:
        try:
            harness = build_harness()
        except BuildError as exc:
            raise TargetLoadError(f"offload: native:{library} given by {source}: {exc}") from None
        argv = [
            sys.executable,
            "-m",
            "pytest_offload.harness.transports.native",
            library,
            str(harness),
        ]
        super().__init__(argv, cwd=cwd, source=source)
        self.library = library
        self.name = f"native:{library}"

    def _spawn(self) -> ChildProcess:
        try:
            return super()._spawn()
        except TargetLoadError as exc:
            # The child says why it cannot serve on a line starting "offload:".
            text = str(exc)
            lines = [line for line in text.splitlines() if line.startswith("offload: ")]
            reason = lines[-1][len("offload: ") :] if len(lines) > 1 else None
            if reason is None:
                raise
            raise TargetLoadError(
                f"offload: the native library given by {self.source} cannot serve as a "
                f"target: {reason}"
            ) from None
