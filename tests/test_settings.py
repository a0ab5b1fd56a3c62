"""Settings resolution: command line > environment > ini > default, with clear errors."""

from __future__ import annotations

import pytest

from pytest_offload.run import BUDGETS, OffloadSettings, SettingError, resolve


def settings(
    cli: dict[str, object] | None = None,
    ini: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> OffloadSettings:
    cli_values, ini_values = cli or {}, ini or {}
    return resolve(cli_values.get, ini_values.get, env or {})


def test_defaults() -> None:
    s = settings()
    assert s.target is None
    assert s.timeout == 2.0
    assert s.strict is False
    assert s.rules == ()
    assert s.max_examples == BUDGETS["default"]
    assert s.seed is None
    assert s.sources["timeout"] == "default"


def test_precedence_cli_then_env_then_ini() -> None:
    ini = {"offload_timeout": "3"}
    env = {"PYTEST_OFFLOAD_TIMEOUT": "4"}
    assert settings(ini=ini).timeout == 3
    assert settings(ini=ini, env=env).timeout == 4
    chosen = settings(cli={"timeout": "5"}, ini=ini, env=env)
    assert chosen.timeout == 5
    assert chosen.sources["timeout"] == "--offload-timeout"
    assert settings(ini=ini, env=env).sources["timeout"] == "PYTEST_OFFLOAD_TIMEOUT"


def test_strict_flag_and_words() -> None:
    assert settings(cli={"strict": True}).strict is True
    assert settings(env={"PYTEST_OFFLOAD_STRICT": "yes"}).strict is True
    assert settings(ini={"offload_strict": "off"}).strict is False
    with pytest.raises(SettingError, match="strict 'maybe' given by ini key offload_strict"):
        settings(ini={"offload_strict": "maybe"})


def test_budgets_by_name_or_number() -> None:
    assert settings(cli={"budget": "quick"}).max_examples == BUDGETS["quick"]
    assert settings(cli={"budget": "THOROUGH"}).max_examples == BUDGETS["thorough"]
    assert settings(cli={"budget": "123"}).max_examples == 123
    with pytest.raises(SettingError, match="from 1 to 100000"):
        settings(cli={"budget": "0"})


def test_rules_are_split_and_trimmed() -> None:
    assert settings(cli={"rules": " INI-NO-RAISE , INI-CONTEXT ,"}).rules == (
        "INI-NO-RAISE",
        "INI-CONTEXT",
    )


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "1e9", "soon"])
def test_bad_timeouts(value: str) -> None:
    with pytest.raises(SettingError, match="timeout"):
        settings(env={"PYTEST_OFFLOAD_TIMEOUT": value})
