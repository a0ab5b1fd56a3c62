"""The ``pytest-offload`` command.

- ``verify certificate.json``: check a certificate and reproduce its verdicts.
- ``catalogue [rules|status]``: print a generated docs page.
- ``serve MODULE[:FACTORY]``: serve a Python target over the process protocol on stdio.
- ``protocol-schema``: print the JSON Schema of every protocol message.
- ``include-dir``: print the directory of the user-mode ``ndischimney.h`` (for ``-I``).
- ``new-adapter --kind python|process|native DIR``: write a starting adapter and a CI job.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema

import pytest_offload
from pytest_offload.harness import TargetLoadError, load_factory
from pytest_offload.harness.transports import protocol_schema, serve
from pytest_offload.harness.transports.native import include_dir
from pytest_offload.report import (
    catalogue_hash,
    certificate_hash,
    load_schema,
    render,
    render_status_codes,
)
from pytest_offload.scaffold import KINDS, ScaffoldError, new_adapter

__all__ = ["main", "serve_command", "verify"]


def _integrity(cert: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.FormatChecker()
    )
    for error in sorted(validator.iter_errors(cert), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(top level)"
        problems.append(f"schema: {where}: {error.message}")
    if cert.get("sha256") != certificate_hash(cert):
        problems.append(
            "hash: the content does not match its sha256: the certificate was changed "
            "after it was written"
        )
    catalogue = cert.get("catalogue", {})
    if catalogue.get("sha256") != catalogue_hash():
        problems.append(
            f"catalogue: judged against catalogue {catalogue.get('version')} "
            f"({str(catalogue.get('sha256'))[:12]}), installed is {catalogue_hash()[:12]}"
        )
    version = cert.get("suite", {}).get("version")
    if version != pytest_offload.__version__:
        problems.append(
            f"suite: written by pytest-offload {version}, installed is "
            f"{pytest_offload.__version__}; install that version to reproduce it"
        )
    return problems


def _waivers_toml(entries: list[dict[str, Any]]) -> str:
    lines = []
    for entry in entries:
        waiver = entry["waiver"]
        lines += [
            "[[waiver]]",
            f"rule = {json.dumps(waiver['rule'])}",
            f"reason = {json.dumps(waiver['reason'])}",
            f"issue = {json.dumps(waiver['issue'])}",
            f"expires = {waiver['expires']}",
            "",
        ]
    return "\n".join(lines)


def _rerun(cert: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    settings = cert["settings"]
    rules = settings["rules"] or [r["id"] for r in cert["rules"]]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report"
        command = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            f"--offload-target={cert['target']['spec']}",
            f"--offload-seed={cert['hypothesis']['seed']}",
            f"--offload-budget={cert['hypothesis']['max_examples']}",
            f"--offload-timeout={settings['timeout']}",
            f"--offload-rules={','.join(rules)}",
            f"--offload-report={out}",
        ]  # fmt: skip
        if settings["strict"]:
            command.append("--offload-strict")
        command.append(
            f"--offload-robustness={'on' if settings.get('robustness', True) else 'off'}"
        )
        if cert["waivers"]:
            # The same waivers again; one that has expired since shows up as a difference.
            waivers = Path(scratch) / "waivers.toml"
            waivers.write_text(_waivers_toml(cert["waivers"]), encoding="utf-8")
            command.append(f"--offload-waivers={waivers}")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        produced = out / "certificate.json"
        if not produced.exists():
            return None, (done.stdout + done.stderr)[-2000:]
        loaded: dict[str, Any] = json.loads(produced.read_text(encoding="utf-8"))
        return loaded, ""


def verify(path: Path, *, rerun: bool = True) -> int:
    """Check ``path``; with ``rerun``, reproduce its verdicts. Returns the exit status."""
    try:
        cert: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"pytest-offload verify: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    problems = _integrity(cert)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    print(f"ok   integrity: content hash, catalogue {cert['catalogue']['version']}, schema")
    if not rerun:
        return 0
    again, output = _rerun(cert)
    if again is None:
        print("FAIL re-run: it wrote no certificate; its output ends with:")
        print(output)
        return 1
    before = {r["id"]: r["verdict"] for r in cert["rules"]}
    after = {r["id"]: r["verdict"] for r in again["rules"]}
    differences = [
        f"{rule_id}: certified {before.get(rule_id, 'absent')}, "
        f"re-run {after.get(rule_id, 'absent')}"
        for rule_id in sorted(set(before) | set(after))
        if before.get(rule_id) != after.get(rule_id)
    ]
    if again["verdict"] != cert["verdict"]:
        differences.append(f"overall: certified {cert['verdict']}, re-run {again['verdict']}")
    for difference in differences:
        print(f"FAIL reproduce: {difference}")
    if differences:
        return 1
    print(f"ok   reproduced: {len(before)} rule verdicts and {cert['verdict']}")
    return 0


def serve_command(spec: str) -> int:
    """``pytest-offload serve``: load ``spec`` and serve it on stdio until shutdown."""
    if spec.startswith("exec:"):
        print("pytest-offload serve: give a Python MODULE[:FACTORY], not exec:", file=sys.stderr)
        return 2
    here = str(Path.cwd())
    if here not in sys.path:
        sys.path.append(here)  # a vendor module in the current directory, as pytest finds it
    try:
        factory = load_factory(spec, source="pytest-offload serve")
    except TargetLoadError as exc:
        print(f"pytest-offload serve: {exc}", file=sys.stderr)
        return 2
    return serve(factory, name=spec)


def new_adapter_command(directory: Path, kind: str, name: str) -> int:
    """``pytest-offload new-adapter``: write the skeleton, say what to run next."""
    try:
        written = new_adapter(directory, kind, name)
    except ScaffoldError as exc:
        print(f"pytest-offload new-adapter: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    readme = directory / "README.md"
    print(f"next: see {readme} (build, then pytest --offload-target=...)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``pytest-offload`` command."""
    parser = argparse.ArgumentParser(prog="pytest-offload", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "verify", help="check a certificate's integrity and reproduce its verdicts"
    )
    check.add_argument("certificate", type=Path, help="path to certificate.json")
    check.add_argument(
        "--no-rerun", action="store_true", help="check integrity only, do not re-run the suite"
    )
    pages = commands.add_parser(
        "catalogue", help="print a generated docs page: the rule catalogue or the status codes"
    )
    pages.add_argument("page", nargs="?", choices=("rules", "status"), default="rules")
    served = commands.add_parser(
        "serve",
        help="serve a Python target over the process protocol (JSON-RPC on stdin/stdout)",
    )
    served.add_argument("target", help="MODULE or MODULE:FACTORY, as for --offload-target")
    commands.add_parser(
        "protocol-schema", help="print the JSON Schema of every process protocol message"
    )
    commands.add_parser(
        "include-dir",
        help="print the directory of ndischimney.h and ndis.h, e.g. gcc -I$(pytest-offload "
        "include-dir) -mms-bitfields",
    )
    scaffold = commands.add_parser(
        "new-adapter",
        help="write a starting adapter of a kind (python, process, native) and a CI job",
    )
    scaffold.add_argument("directory", type=Path, help="where to write it (created if missing)")
    scaffold.add_argument("--kind", choices=tuple(KINDS), default="python")
    scaffold.add_argument("--name", default="offload_adapter", help="module / file name")
    args = parser.parse_args(argv)
    if args.command == "new-adapter":
        return new_adapter_command(args.directory, args.kind, args.name)
    if args.command == "catalogue":
        print(render() if args.page == "rules" else render_status_codes(), end="")
        return 0
    if args.command == "serve":
        return serve_command(args.target)
    if args.command == "protocol-schema":
        print(json.dumps(protocol_schema(), indent=2))
        return 0
    if args.command == "include-dir":
        print(include_dir())
        return 0
    return verify(args.certificate, rerun=not args.no_rerun)


if __name__ == "__main__":
    raise SystemExit(main())
