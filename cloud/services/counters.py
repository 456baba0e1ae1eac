"""Recorded counter breaks (a counter reset, or a replacement recorded on the meter itself)
that consumption bridges; a replacement by a new serial is two meters with dated service
periods instead (cloud/services/consumption.py).

A service engineer or dispatcher (not a reader) records, for one meter channel and counter
parameter, the first hourly period read from the new counter, the old counter's final reading
and the new one's initial reading; the entry is audit-logged. ``load`` gives the accounting
service the breaks of the meters it computes. Tests: tests/integration/test_cloud_counters.py.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime

from cloud.services import audit
from cloud.services.auth import AuthService, require_writer
from cloud.services.consumption import CounterBreak
from cloud.services.models import InvalidInput, NotFound, UserInfo
from cloud.storage.registry import Registry
from protocol.vocabulary import PARAMETERS

KINDS = ("replacement", "reset")


def load(registry: Registry, meter_ids: list[int], parameter: str) -> dict[tuple[str, int], list[CounterBreak]]:
    """(meter serial, channel) -> its recorded breaks of ``parameter``, oldest first (UTC-aware)."""
    if not meter_ids:
        return {}
    marks = ",".join("?" * len(meter_ids))
    rows = registry.all(
        "SELECT m.serial, b.channel, b.kind, b.first_period, b.final_value, b.initial_value FROM counter_breaks b "  # noqa: S608 - placeholders only
        f"JOIN meters m ON m.id = b.meter_id WHERE b.meter_id IN ({marks}) AND b.parameter = ? "
        "ORDER BY b.first_period", *meter_ids, parameter)
    out: dict[tuple[str, int], list[CounterBreak]] = defaultdict(list)
    for r in rows:
        first = datetime.fromisoformat(r["first_period"]).astimezone(UTC)
        out[(r["serial"], r["channel"])].append(CounterBreak(first, r["final_value"], r["initial_value"], r["kind"]))
    return dict(out)


class CounterService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def record_break(self, token: str, meter_id: int, channel: int, parameter: str, first_period: datetime,
                           final: float, initial: float, kind: str = "replacement") -> int:
        """Record a replacement or reset; returns its id. ``first_period`` must carry a time zone."""
        user = require_writer(await self.auth.user(token))
        if kind not in KINDS:
            raise InvalidInput(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        if first_period.tzinfo is None:
            raise InvalidInput("first_period: needs a time zone (UTC offset)")
        if first_period.minute or first_period.second or first_period.microsecond:
            raise InvalidInput("first_period: must be the start of an hour")
        if parameter not in PARAMETERS or not PARAMETERS[parameter].summable:
            raise InvalidInput(f"parameter: {parameter!r} is not a counter")
        for name, value in (("final", final), ("initial", initial)):
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"{name}: must be a finite reading >= 0, got {value!r}")
        return await asyncio.to_thread(self._record, user, meter_id, channel, parameter,
                                       first_period.astimezone(UTC), final, initial, kind)

    def _record(self, user: UserInfo, meter_id: int, channel: int, parameter: str, first: datetime, final: float,
                initial: float, kind: str) -> int:
        with self.registry.connect() as db:
            row = db.execute("SELECT c.parameters FROM meters m JOIN meter_channels c ON c.meter_id = m.id "
                             "WHERE m.id = ? AND m.company_id = ? AND c.number = ?",
                             (meter_id, user.company_id, channel)).fetchone()
            if row is None:
                raise NotFound(f"meter {meter_id} channel {channel} not found")
            if parameter not in row["parameters"].split(","):
                raise InvalidInput(f"parameter: channel {channel} has no {parameter}")
            try:
                break_id = db.execute(
                    "INSERT INTO counter_breaks (meter_id, channel, parameter, kind, first_period, final_value, "
                    "initial_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (meter_id, channel, parameter, kind, first.isoformat(), final, initial)).lastrowid
            except sqlite3.IntegrityError as exc:
                raise InvalidInput("first_period: a break is already recorded for this period") from exc
            audit.record(db, user, f"counter.{kind}", f"meter:{meter_id}", None,
                         {"channel": channel, "parameter": parameter, "first_period": first.isoformat(),
                          "final": final, "initial": initial})
        return int(break_id or 0)
