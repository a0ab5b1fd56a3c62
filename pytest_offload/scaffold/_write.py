"""Rendering the starting adapter of each kind (Jinja templates beside this module)."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import jinja2

__all__ = ["KINDS", "ScaffoldError", "new_adapter"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
#: kind -> (file written from each template, by template name)
KINDS: dict[str, dict[str, str]] = {
    "python": {
        "adapter.py.j2": "{name}.py",
        "README.md.j2": "README.md",
        "offload-conformance.yml.j2": "ci/offload-conformance.yml",
    },
    "process": {
        "adapter.py.j2": "{name}.py",
        "README.md.j2": "README.md",
        "offload-conformance.yml.j2": "ci/offload-conformance.yml",
    },
    "native": {
        "adapter.c.j2": "{name}.c",
        "Makefile.j2": "Makefile",
        "README.md.j2": "README.md",
        "offload-conformance.yml.j2": "ci/offload-conformance.yml",
    },
}
_SHARED = ("README.md.j2", "offload-conformance.yml.j2")


class ScaffoldError(Exception):
    """The adapter cannot be written as asked (nothing was written)."""


def _target_spec(kind: str, name: str) -> str:
    if kind == "python":
        return name
    if kind == "process":
        return f"exec:python3 {name}.py"
    return f"native:./lib{name}.so"


def new_adapter(directory: Path, kind: str, name: str = "offload_adapter") -> list[Path]:
    """Write the starting adapter of ``kind`` into ``directory``; the paths written.

    Raises:
        ScaffoldError: an unknown kind, a name that is no identifier, or a file that
            exists already (nothing is overwritten: nothing is written then).
    """
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name):
        raise ScaffoldError(f"--name {name!r} must be an identifier (a module and file name)")
    plan = {template: directory / out.format(name=name) for template, out in KINDS[kind].items()}
    existing = [str(p) for p in plan.values() if p.exists()]
    if existing:
        raise ScaffoldError(
            f"{', '.join(existing)} exist already: choose an empty directory (nothing was written)"
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # source code and YAML, not HTML
    )
    values = {"kind": kind, "name": name, "target": _target_spec(kind, name)}
    written: list[Path] = []
    for template, path in plan.items():
        folder = "shared" if template in _SHARED else kind
        text = env.get_template(f"{folder}/{template}").render(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if kind != "native":
        plan_py = directory / f"{name}.py"
        if kind == "process":
            plan_py.chmod(0o755)
    return written
