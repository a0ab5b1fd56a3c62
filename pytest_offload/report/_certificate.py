"""The certification artefacts: ``certificate.json`` (with a hash) and ``report.html``.

The certificate's ``sha256`` covers its own canonical JSON (without the hash field); the
catalogue hash covers every rule's ID, grade and text, so a certificate names exactly the
rules it was judged against.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
from importlib import resources
from typing import TYPE_CHECKING, Any

import hypothesis
from jinja2 import Environment, PackageLoader

from pytest_offload._version import __version__
from pytest_offload.catalogue import CATALOGUE, CATALOGUE_VERSION

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_offload.run import OffloadRun

__all__ = [
    "FORMAT",
    "build_certificate",
    "catalogue_hash",
    "certificate_hash",
    "load_schema",
    "render_html",
    "write_report",
]

FORMAT = "pytest-offload-certificate/1"


def catalogue_hash() -> str:
    """SHA-256 over every rule's ID, grade and text, in catalogue order."""
    rows = [[r.id, r.grade.value, r.text] for r in CATALOGUE]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def certificate_hash(certificate: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of ``certificate`` without its ``sha256`` field."""
    body = {k: v for k, v in certificate.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_schema() -> dict[str, Any]:
    """The JSON Schema a certificate validates against (shipped with the package)."""
    text = resources.files("pytest_offload.report").joinpath("certificate.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _target_version(spec: str) -> str | None:
    module_name = spec.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except Exception:  # the module was imported before; a failure here only loses the version
        return None
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def build_certificate(
    run: OffloadRun, *, started: str, finished: str, complete: bool, verdict: str
) -> dict[str, Any]:
    """Everything a customer needs to check the claim, hashed."""
    rules = []
    hits = run.hit_counts()
    for rule in run.rules:
        found = run.verdicts.get(rule.id)
        entry: dict[str, Any] = {
            "id": rule.id,
            "grade": rule.grade.value,
            "verdict": found.verdict.value if found else "not run",
            "cases": found.cases if found else 0,
            "hits": hits.get(rule.id, 0),
        }
        if found is not None:
            for key in ("reason", "replay", "waiver"):
                value = getattr(found, key)
                if value:
                    entry[key] = value
        rules.append(entry)
    certificate: dict[str, Any] = {
        "format": FORMAT,
        "suite": {"name": "pytest-offload", "version": __version__},
        "catalogue": {"version": CATALOGUE_VERSION, "sha256": catalogue_hash()},
        "target": {"spec": run.target_name, "version": _target_version(run.target_name)},
        "capabilities": run.capabilities.as_dict(),
        "hypothesis": {
            "version": hypothesis.__version__,
            "seed": run.seed,
            "budget": run.settings.budget_name,
            "max_examples": run.settings.max_examples,
        },
        "settings": {
            "timeout": run.settings.timeout,
            "strict": run.settings.strict,
            "rules": list(run.settings.rules),
            "robustness": run.settings.robustness,
        },
        "rules": rules,
        "waivers": run.waiver_report(),
        "counterexamples": [
            found.counterexample
            for found in map(run.verdicts.get, (r.id for r in run.rules))
            if found is not None and found.counterexample
        ],
        "complete": complete,
        "verdict": verdict,
        "started": started,
        "finished": finished,
        "platform": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "system": platform.system(),
            "machine": platform.machine(),
        },
    }
    certificate["sha256"] = certificate_hash(certificate)
    return certificate


def render_html(certificate: dict[str, Any], messages: dict[str, str]) -> str:
    """A self-contained HTML page: verdict matrix, each failure's tree and replay command."""
    env = Environment(
        loader=PackageLoader("pytest_offload.report", "templates"),
        autoescape=True,  # vendor text (exception messages, reprs) must never become markup
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(c=certificate, messages=messages)


def write_report(directory: Path, certificate: dict[str, Any], messages: dict[str, str]) -> None:
    """Write ``certificate.json`` and ``report.html`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "certificate.json").write_text(
        json.dumps(certificate, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (directory / "report.html").write_text(render_html(certificate, messages), encoding="utf-8")
