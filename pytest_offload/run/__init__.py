"""A run of the suite, without pytest: settings, waivers, the campaign of generated cases,
per-rule verdicts and the run state."""

from __future__ import annotations

from pytest_offload.run._campaign import LATE_SETTLE as LATE_SETTLE
from pytest_offload.run._campaign import REPLAYS as REPLAYS
from pytest_offload.run._campaign import AimResult as AimResult
from pytest_offload.run._campaign import Campaign as Campaign
from pytest_offload.run._campaign import Finding as Finding
from pytest_offload.run._run import OffloadRun as OffloadRun
from pytest_offload.run._settings import BUDGETS as BUDGETS
from pytest_offload.run._settings import OPTIONS as OPTIONS
from pytest_offload.run._settings import OffloadSettings as OffloadSettings
from pytest_offload.run._settings import SettingError as SettingError
from pytest_offload.run._settings import resolve as resolve
from pytest_offload.run._verdicts import RuleVerdict as RuleVerdict
from pytest_offload.run._verdicts import Verdict as Verdict
from pytest_offload.run._waivers import Waiver as Waiver
from pytest_offload.run._waivers import WaiverError as WaiverError
from pytest_offload.run._waivers import load_waivers as load_waivers

__all__ = [
    "BUDGETS",
    "LATE_SETTLE",
    "OPTIONS",
    "REPLAYS",
    "AimResult",
    "Campaign",
    "Finding",
    "OffloadRun",
    "OffloadSettings",
    "RuleVerdict",
    "SettingError",
    "Verdict",
    "Waiver",
    "WaiverError",
    "load_waivers",
    "resolve",
]
