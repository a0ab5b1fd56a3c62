"""The suite's settings and the one function that resolves them: CLI > env > ini > default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pytest_offload.harness import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["BUDGETS", "OPTIONS", "OffloadSettings", "Option", "SettingError", "resolve"]

#: Hypothesis examples per rule for each named budget.
BUDGETS: Final = {"quick": 10, "default": 40, "thorough": 400}


class SettingError(ValueError):
    """A setting's value is invalid; the message says where it came from and how to fix it."""


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its CLI flag, ini key, environment variable, default and help."""

    name: str
    help: str
    default: str | None
    flag: bool = False

    @property
    def cli(self) -> str:
        return "--offload-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "offload_" + self.name

    @property
    def env(self) -> str:
        return "PYTEST_OFFLOAD_" + self.name.upper()


OPTIONS: Final = (
    Option("target", "offload target adapter as MODULE or MODULE:FACTORY (default factory "
           "create_target); without it the conformance suite is not collected", None),
    Option("timeout", f"seconds to wait for each initiate's completion (default "
           f"{DEFAULT_TIMEOUT:g})", str(DEFAULT_TIMEOUT)),
    Option("strict", "SHOULD failures fail the run too (default: off; they are reported "
           "as non-strict)", "false", flag=True),
    Option("rules", "comma-separated rule IDs, ID prefixes or globs to run, e.g. "
           "INI-CONTEXT,INI-*-CAUSE (default: every rule)", ""),
    Option("budget", f"examples per rule: {', '.join(f'{k}={v}' for k, v in BUDGETS.items())} "
           "or a number (default: default)", "default"),
    Option("seed", "seed for the generated cases; the failure report prints the one to "
           "replay with (default: random per run)", None),
    Option("report", "directory to write certificate.json and report.html into "
           "(default: none written)", None),
    Option("waivers", "TOML file of waivers: accepted failures with a reason, an issue link "
           "and an expiry date (default: none)", None),
    Option("robustness", "generate robustness cases, which no host sends: unknown linkers and "
           "malformed trees (on/off; default: on; off e.g. for a C target that dereferences "
           "contexts; INI-UNKNOWN-LINKER and INI-MALFORMED-TREE are then not applicable)", "on"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OffloadSettings:
    """The resolved settings, each with the place its value came from."""

    target: str | None
    timeout: float
    strict: bool
    rules: tuple[str, ...]
    budget_name: str
    max_examples: int
    seed: int | None
    sources: Mapping[str, str]
    report: str | None = None
    waivers: str | None = None
    robustness: bool = True


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def resolve(
    cli: Callable[[str], object],
    ini: Callable[[str], object],
    env: Mapping[str, str] | None = None,
) -> OffloadSettings:
    """Resolve every setting by precedence: command line, environment, ini file, default.

    Args:
        cli: Returns the parsed command-line value for an option name (``None`` if unset).
        ini: Returns the ini value for an ini key (``None`` or empty if unset).
        env: The environment (default ``os.environ``).

    Raises:
        SettingError: naming the setting, the source and the accepted values.
    """
    environ = os.environ if env is None else env
    raw: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        value = cli(option.name)
        if value is not None and value is not False:
            raw[option.name], sources[option.name] = str(value), option.cli
            continue
        if option.env in environ:
            raw[option.name], sources[option.name] = environ[option.env], option.env
            continue
        from_ini = ini(option.ini)
        if from_ini not in (None, "", []):
            raw[option.name] = str(from_ini)
            sources[option.name] = f"ini key {option.ini}"
            continue
        raw[option.name], sources[option.name] = option.default, "default"

    def where(name: str) -> str:
        return sources[name]

    target = raw["target"] or None
    timeout_text = raw["timeout"] or ""
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = float("nan")
    if not (timeout > 0 and timeout < 3600):
        raise SettingError(
            f"offload: timeout {timeout_text!r} given by {where('timeout')} must be a number "
            "of seconds above 0 and below 3600, e.g. --offload-timeout=2"
        )
    strict_text = (raw["strict"] or "").strip().lower()
    if strict_text not in _TRUE | _FALSE:
        raise SettingError(
            f"offload: strict {raw['strict']!r} given by {where('strict')} must be one of "
            "true/false, yes/no, on/off, 1/0"
        )
    robustness_text = (raw["robustness"] or "on").strip().lower()
    if robustness_text not in _TRUE | _FALSE - {""}:
        raise SettingError(
            f"offload: robustness {raw['robustness']!r} given by {where('robustness')} must be "
            "one of on/off, true/false, yes/no, 1/0"
        )
    rules = tuple(r.strip() for r in (raw["rules"] or "").split(",") if r.strip())
    budget_text = (raw["budget"] or "default").strip().lower()
    if budget_text in BUDGETS:
        max_examples = BUDGETS[budget_text]
    elif budget_text.isdigit() and 1 <= int(budget_text) <= 100_000:
        max_examples = int(budget_text)
    else:
        raise SettingError(
            f"offload: budget {raw['budget']!r} given by {where('budget')} must be one of "
            f"{', '.join(BUDGETS)} or a number of examples from 1 to 100000"
        )
    seed: int | None = None
    if raw["seed"] not in (None, ""):
        seed_text = str(raw["seed"]).strip()
        if not seed_text.isdigit():
            raise SettingError(
                f"offload: seed {seed_text!r} given by {where('seed')} must be a "
                "non-negative integer"
            )
        seed = int(seed_text)
    return OffloadSettings(
        target=target,
        timeout=timeout,
        strict=strict_text in _TRUE,
        rules=rules,
        budget_name=budget_text,
        max_examples=max_examples,
        seed=seed,
        sources=sources,
        report=raw["report"] or None,
        waivers=raw["waivers"] or None,
        robustness=robustness_text in _TRUE,
    )
