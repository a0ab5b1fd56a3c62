"""Loading a target: ``module[:factory]`` as given by ``--offload-target``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from pytest_offload.harness._errors import TargetLoadError

if TYPE_CHECKING:
    from pytest_offload.model import TargetFactory

__all__ = ["TargetLoadError", "load_factory"]


def load_factory(
    spec: str, *, source: str = "--offload-target", cwd: str | None = None
) -> TargetFactory:
    """The factory ``spec`` names: ``exec:PROGRAM ARGS...`` (a process target, run in
    ``cwd``), ``native:LIBRARY`` (a shared library, run in a child process), or
    ``module[:attribute]`` (default attribute ``create_target``) imported.

    Raises:
        TargetLoadError: saying what was wrong, where the value came from and how to fix it.
    """
    if spec.strip().startswith("exec:"):
        # Imported when asked for: most runs never start a process.
        from pytest_offload.harness.transports import (  # noqa: PLC0415
            ProcessTargetFactory,
            parse_exec,
        )

        argv = parse_exec(spec.strip(), source=source)
        return ProcessTargetFactory(argv, cwd=cwd, source=source)
    if spec.strip().startswith("native:"):
        from pytest_offload.harness.transports.native import (  # noqa: PLC0415
            NativeTargetFactory,
            parse_native,
        )

        library = parse_native(spec, source=source, cwd=cwd)
        return NativeTargetFactory(library, cwd=cwd, source=source)
    module_name, _, attribute = spec.strip().partition(":")
    attribute = attribute or "create_target"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise TargetLoadError(
            f"offload: {spec!r} given by {source} is not MODULE, MODULE:FACTORY or "
            "exec:PROGRAM (e.g. vendor_module, vendor_module:create_target, exec:./my_sim)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of vendor code is the user's to see
        raise TargetLoadError(
            f"offload: cannot import {module_name!r} given by {source}: "
            f"{type(exc).__name__}: {exc}. Is it installed or on sys.path "
            "(run pytest from its directory, or pip install it)?"
        ) from exc
    factory = getattr(module, attribute, None)
    if factory is None:
        raise TargetLoadError(
            f"offload: module {module_name!r} given by {source} has no {attribute!r}; "
            f"define {attribute}(host) returning the target, or name another factory as "
            f"{module_name}:FACTORY"
        )
    if not callable(factory):
        raise TargetLoadError(
            f"offload: {module_name}:{attribute} given by {source} is a "
            f"{type(factory).__name__}, not a callable factory(host)"
        )
    return cast("TargetFactory", factory)
