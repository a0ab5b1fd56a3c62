"""Building the harness library (``harness.c``) with the system C compiler, once.

A native target is C built by its vendor, so a C compiler is there; the suite builds its
own small NDIS side from the shipped source the first time it is needed and keeps it in a
cache keyed by the source's hash (several xdist workers building at once each write their
own file and rename it into place: the last rename wins, every one is complete).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["BuildError", "build_harness", "cache_dir", "compiler", "harness_source"]

_HERE = Path(__file__).resolve().parent
#: Flags every native build uses: the MS bitfield layout the header asserts.
CFLAGS = ("-std=c11", "-O2", "-fPIC", "-mms-bitfields")


class BuildError(Exception):
    """The harness library could not be built (no compiler, or it failed)."""


def harness_source() -> Path:
    return _HERE / "harness.c"


def compiler() -> list[str]:
    """The C compiler: ``$CC`` (split with shell rules), else ``cc``, else ``gcc``."""
    given = os.environ.get("CC", "").strip()
    if given:
        return shlex.split(given)
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found]
    raise BuildError(
        "no C compiler found (set CC, or install gcc: apt-get install gcc); the native "
        "harness builds its NDIS side from source the first time it runs"
    )


def cache_dir() -> Path:
    """Where built harness libraries are kept: ``$PYTEST_OFFLOAD_CACHE``, else
    ``$XDG_CACHE_HOME/pytest-offload``, else ``~/.cache/pytest-offload``."""
    given = os.environ.get("PYTEST_OFFLOAD_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-offload"


def build_harness() -> Path:
    """The path of the built harness library, building it if the cache has none.

    Raises:
        BuildError: no compiler, or the build failed (its output in the message).
    """
    include = _HERE / "include"
    digest = hashlib.sha256()
    for path in (harness_source(), *sorted(include.glob("*.h"))):
        digest.update(path.read_bytes())
    cc = compiler()
    digest.update(" ".join(cc).encode())
    name = f"harness-{digest.hexdigest()[:16]}-{platform.machine()}.so"
    where = cache_dir()
    target = where / name
    if target.exists():
        return target
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = Path(tempfile.gettempdir()) / f"pytest-offload-{os.getuid()}"
        where.mkdir(parents=True, exist_ok=True)
        target = where / name
        if target.exists():
            return target
        del exc
    fd, partial = tempfile.mkstemp(prefix=name, suffix=".part", dir=where)
    os.close(fd)
    command = [
        *cc,
        *CFLAGS,
        "-shared",
        f"-I{include}",
        str(harness_source()),
        "-o",
        partial,
        "-lpthread",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(partial)
        raise BuildError(f"cannot run the C compiler {shlex.join(cc)}: {exc}") from None
    if result.returncode != 0:
        os.unlink(partial)
        raise BuildError(
            f"building the native harness failed ({shlex.join(command)}):\n"
            f"{(result.stderr or result.stdout).strip()}"
        )
    os.replace(partial, target)
    return target
