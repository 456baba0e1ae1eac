"""The rules of power limitation (manual 4.5.8) and relay thresholds (4.6.11) as pure functions
over plain values: no storage, no clock (callers pass "today").

Threshold: the building's own value in watts, else its city's default (per company), else none,
and with none a premise cannot be limited (the relay would have no power to limit to).

A limitation's state is read from the state of the relay command of its current phase, never
kept apart from it: while it limits, the command that sets the 941LW relay to LIMIT; once a lift
was asked for, the command that sets it back ON. ``STATE`` is that one table. A failed or
timed-out command is shown as such: the relay is not said to limit until the device confirmed it.
A late result that arrives after a time-out is still the truth (cloud/services/commands.py), and so
the state follows it. ``ACTIONS`` says which states allow which action, also as data:

- start: a premise with no limitation in force (none yet, the latest lifted, or the latest whose
  limit command failed or timed out: the relay never limited);
- lift: the relay limits (``limited``), or the previous lift failed or timed out (asked again);
- retry: the limit command failed or timed out: the same limitation is sent again.

Lifting is for both reasons: the manual describes it for a debt that was paid; a repair that is over
ends the same way. Tests: tests/unit/cloud/test_power_rules.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from cloud.services.models import InvalidInput

REASONS = ("debt", "repairs")
MIN_THRESHOLD_W = 100  # below this a LIMIT relay would trip at a lamp: a cut, not a limitation
MAX_THRESHOLD_W = 1_000_000  # = cloud/services/commands.MAX_LIMIT_W, the relay command's bound
MAX_DEBT = 100_000_000.0  # roubles: far above any household's debt, keeps the amount a plain number
MAX_AHEAD = timedelta(days=366)  # how far ahead a repair start, notice or control date may lie
MAX_BEHIND = timedelta(days=366)  # how far back a repair start may lie (works already going on)

# (phase, command state) -> the limitation's state
STATE: dict[tuple[str, str], str] = {
    **{("limit", s): "sending" for s in ("created", "sent", "acknowledged")},
    ("limit", "done"): "limited",
    ("limit", "failed"): "failed",
    ("limit", "timed_out"): "timed_out",
    **{("lift", s): "lifting" for s in ("created", "sent", "acknowledged")},
    ("lift", "done"): "lifted",
    ("lift", "failed"): "lift_failed",
    ("lift", "timed_out"): "lift_timed_out",
}
STATES = tuple(dict.fromkeys(STATE.values()))
# states in which the relay limits, or may: the premise has a limitation in force
IN_FORCE = frozenset({"sending", "limited", "lifting", "lift_failed", "lift_timed_out"})
# states in which a new limitation may be started (``None``: the premise never had one)
ACTIONS: dict[str, frozenset[str | None]] = {
    "start": frozenset({None, "lifted", "failed", "timed_out"}),
    "lift": frozenset({"limited", "lift_failed", "lift_timed_out"}),
    "retry": frozenset({"failed", "timed_out"}),
}


class PowerRuleError(InvalidInput):
    """A refusal by one of these rules: ``reason`` is a stable key (the UI words it in Russian with
    ``params``), the message says it in English for the API."""

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.reason, self.params = reason, params


@dataclass(frozen=True, slots=True)
class Threshold:
    watts: int
    source: str  # "building" (its own) or "city" (the city's default)


def threshold(building_w: int | None, city_w: int | None) -> Threshold | None:
    """The relay threshold a limitation of a premise uses: the building's, else the city's, else none."""
    if building_w is not None:
        return Threshold(building_w, "building")
    if city_w is not None:
        return Threshold(city_w, "city")
    return None


def check_threshold(field: str, value: object) -> int:
    """A threshold in whole watts within MIN_THRESHOLD_W..MAX_THRESHOLD_W, or InvalidInput naming ``field``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_THRESHOLD_W <= value <= MAX_THRESHOLD_W:
        raise InvalidInput(f"{field}: whole watts from {MIN_THRESHOLD_W} to {MAX_THRESHOLD_W}, got {value!r}")
    return value


def state(phase: str, command_state: str) -> str:
    """The limitation's state from its current phase ("limit" or "lift") and that command's state."""
    try:
        return STATE[(phase, command_state)]
    except KeyError:
        raise ValueError(f"no limitation state for phase {phase!r} and command state {command_state!r}") from None


def check_action(action: str, current: str | None) -> None:
    """Nothing when ``action`` is allowed in ``current`` (None: no limitation yet); else PowerRuleError."""
    if current in ACTIONS[action]:
        return
    if action == "start":
        raise PowerRuleError("in_force", f"the premise has a limitation in force already ({current})",
                             state=current)
    if current is None:
        raise PowerRuleError("no_limitation", "the premise has no limitation")
    raise PowerRuleError(f"{action}_refused", f"cannot {action} a limitation that is {current}", state=current)


@dataclass(frozen=True, slots=True)
class Request:
    """What the dispatcher asks for, checked (``check_request``)."""

    reason: str
    debt_amount: float | None
    repairs_from: date | None
    notify: bool
    notify_on: date | None
    control_on: date | None


def check_request(reason: str, debt_amount: float | None, repairs_from: date | None, notify: bool,
                  notify_on: date | None, control_on: date | None, today: date) -> Request:
    """The limitation's details as the manual asks for them, or InvalidInput naming the field:
    a debt with its amount (roubles, above 0, kopecks at most), or repairs with their start date
    (within a year of ``today`` either way); with notification through ЭК, a notification date
    from today on and a control date not before it, both within a year."""
    if reason not in REASONS:
        raise InvalidInput(f"reason: one of {', '.join(REASONS)}, got {reason!r}")
    if reason == "debt":
        if debt_amount is None:
            raise PowerRuleError("debt_amount_missing", "debt_amount: a debt limitation needs the amount owed")
        if repairs_from is not None:
            raise InvalidInput("repairs_from: only a repairs limitation has a start date of works")
        if isinstance(debt_amount, bool) or not isinstance(debt_amount, int | float) or not math.isfinite(debt_amount) \
                or not 0 < debt_amount <= MAX_DEBT:
            raise PowerRuleError("debt_amount_range", f"debt_amount: above 0 and at most {MAX_DEBT:.0f}, got "
                                 f"{debt_amount!r}", high=MAX_DEBT)
        if round(debt_amount, 2) != debt_amount:
            raise PowerRuleError("debt_amount_kopecks", f"debt_amount: roubles with at most two decimals (kopecks), "
                                 f"got {debt_amount!r}")
        amount: float | None = float(debt_amount)
    else:
        if repairs_from is None:
            raise PowerRuleError("repairs_from_missing", "repairs_from: a repairs limitation needs the start date "
                                 "of the works")
        if debt_amount is not None:
            raise InvalidInput("debt_amount: only a debt limitation has an amount")
        if not today - MAX_BEHIND <= repairs_from <= today + MAX_AHEAD:
            raise PowerRuleError("repairs_from_range", f"repairs_from: from {today - MAX_BEHIND} to "
                                 f"{today + MAX_AHEAD}, got {repairs_from}", low=today - MAX_BEHIND,
                                 high=today + MAX_AHEAD)
        amount = None
    if not notify:
        if notify_on is not None or control_on is not None:
            field = "notify_on" if notify_on is not None else "control_on"
            raise InvalidInput(f"{field}: notification and control dates go with notify = true")
        return Request(reason, amount, repairs_from, False, None, None)
    if notify_on is None or control_on is None:
        raise PowerRuleError("notice_dates_missing", "notify_on, control_on: a notice through ЭК needs the "
                             "notification date and the control date")
    if not today <= notify_on <= today + MAX_AHEAD:
        raise PowerRuleError("notify_on_range", f"notify_on: from today {today} to {today + MAX_AHEAD}, got "
                             f"{notify_on}", low=today, high=today + MAX_AHEAD)
    if not notify_on <= control_on <= today + MAX_AHEAD:
        raise PowerRuleError("control_on_range", f"control_on: from the notification date {notify_on} to "
                             f"{today + MAX_AHEAD}, got {control_on}", low=notify_on, high=today + MAX_AHEAD)
    return Request(reason, amount, repairs_from, True, notify_on, control_on)
