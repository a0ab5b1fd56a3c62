"""Vendor waivers: rule IDs whose failures are accepted for now, with a reason and expiry.

The file is TOML::

    [[waiver]]
    rule = "INI-DEPTH-FIRST"
    reason = "firmware walks connections in hash order; fixed in 2.1"
    issue = "https://tracker.example.com/PRJ-1234"
    expires = 2027-03-31
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_offload.catalogue import CATALOGUE

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Waiver", "WaiverError", "load_waivers"]


class WaiverError(ValueError):
    """The waiver file is unreadable or an entry is invalid; says which and why."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """One accepted failure of one rule until ``expires``."""

    rule: str
    reason: str
    issue: str
    expires: dt.date

    def expired(self, today: dt.date) -> bool:
        """True once ``today`` is past the expiry date."""
        return today > self.expires

    def as_dict(self) -> dict[str, str]:
        """A JSON-friendly view for the certificate."""
        return {
            "rule": self.rule,
            "reason": self.reason,
            "issue": self.issue,
            "expires": self.expires.isoformat(),
        }


def load_waivers(path: Path) -> list[Waiver]:
    """Read and validate a waiver file.

    Raises:
        WaiverError: naming the file, the entry and what is wrong with it.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WaiverError(f"offload: cannot read waiver file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"offload: waiver file {path} is not valid TOML: {exc}") from None
    entries = data.get("waiver", [])
    if not isinstance(entries, list) or set(data) - {"waiver"}:
        raise WaiverError(
            f"offload: waiver file {path} must hold only [[waiver]] tables "
            "(rule, reason, issue, expires)"
        )
    waivers: list[Waiver] = []
    for number, entry in enumerate(entries, start=1):
        where = f"waiver {number} in {path}"
        missing = [k for k in ("rule", "reason", "issue", "expires") if k not in entry]
        if missing:
            raise WaiverError(f"offload: {where} lacks {', '.join(missing)}")
        rule = str(entry["rule"]).strip().upper()
        if rule not in CATALOGUE:
            raise WaiverError(
                f"offload: {where} names rule {entry['rule']!r}, which does not exist"
            )
        expires = entry["expires"]
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            raise WaiverError(
                f"offload: {where} has expires={expires!r}; write a TOML date such as 2027-03-31"
            )
        for key in ("reason", "issue"):
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise WaiverError(f"offload: {where} needs a non-empty {key}")
        waivers.append(Waiver(rule, entry["reason"].strip(), entry["issue"].strip(), expires))
    return waivers
