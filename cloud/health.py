"""What the cloud knows of its own health: each NATS link and each ingest worker's storing.

A ``Link`` follows one NATS connection through nats.py's callbacks; a ``Storing`` follows one
ingest worker's inserts and its consumer's lag. Each logs one line when its state changes
(``event=nats_link ... state=down`` / ``state=up``, ``event=ingest_state ... state=failing`` /
``state=ok``), never a line per retry. ``report`` turns them into the /api/health answer: not
ok while an insert is failing (the last attempt failed) or a link has been down longer than
``GRACE_S``; the answer names each problem. Tests: tests/integration/test_health.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger(__name__)

GRACE_S = 10.0  # a link down this long (a restart of nats-server takes less) makes health not ok


def _at(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _line(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    return text.strip().splitlines()[0][:300] if text.strip() else "unknown"


@dataclass
class Link:
    """One NATS connection of this process (an ingest worker's, the command bus's)."""

    name: str
    up: bool = False
    since: float = field(default_factory=time.time)  # when it went up or down (down: since start)
    error: str = ""

    def connected(self) -> None:
        if not self.up:
            self.up, self.since, self.error = True, time.time(), ""
            log.info("event=nats_link link=%s state=up", self.name)

    def disconnected(self, reason: BaseException | str = "connection lost") -> None:
        if self.up:
            self.up, self.since = False, time.time()
            self.error = _line(reason)
            log.warning("event=nats_link link=%s state=down error=%r", self.name, self.error)

    def failed(self, exc: BaseException) -> None:
        """nats.py's error callback: once per outage it is worth a line, not once per attempt."""
        first = not self.error
        self.error = _line(exc)
        if self.up:
            self.disconnected(exc)
        elif first:
            log.warning("event=nats_link link=%s state=down error=%r", self.name, self.error)

    def problem(self, now: float) -> str | None:
        if self.up or now - self.since < GRACE_S:
            return None
        return f"{self.name}: NATS link down since {_at(self.since)}" + (f": {self.error}" if self.error else "")

    def as_dict(self) -> dict:
        return {"up": self.up, "since": _at(self.since), "error": self.error or None}


@dataclass
class Storing:
    """One ingest worker's inserts into ClickHouse and its consumer's backlog."""

    name: str
    last_insert_at: float | None = None
    failing: int = 0  # failed attempts since the last success
    failing_since: float | None = None
    error: str = ""
    pending: int | None = None  # messages of the stream not yet delivered to the consumer
    ack_pending: int | None = None  # delivered, not yet acknowledged
    lag_at: float | None = None

    def stored(self) -> None:
        if self.failing:
            log.info("event=ingest_state worker=%s state=ok after_failures=%d", self.name, self.failing)
        self.last_insert_at, self.failing, self.failing_since, self.error = time.time(), 0, None, ""

    def store_failed(self, exc: BaseException) -> None:
        self.error = _line(exc)
        if not self.failing:
            self.failing_since = time.time()
            log.error("event=ingest_state worker=%s state=failing error=%r", self.name, self.error)
        self.failing += 1

    def lag(self, pending: int, ack_pending: int) -> None:
        self.pending, self.ack_pending, self.lag_at = pending, ack_pending, time.time()

    def problem(self) -> str | None:
        if not self.failing:
            return None
        return (f"{self.name}: inserts failing since {_at(self.failing_since)} ({self.failing} attempts): "
                f"{self.error}")

    def as_dict(self) -> dict:
        return {"last_insert_at": _at(self.last_insert_at), "failing_inserts": self.failing,
                "failing_since": _at(self.failing_since), "error": self.error or None,
                "consumer_pending": self.pending, "ack_pending": self.ack_pending, "lag_at": _at(self.lag_at)}


def report(links: Sequence[Link], storing: Sequence[Storing], archive_rows: int | None,
           archive_error: str = "") -> tuple[int, dict]:
    """(HTTP status, body) of /api/health: 200 and "ok", or 503 and "failing" with the problems."""
    now = time.time()
    problems = [p for p in (*(s.problem() for s in storing), *(link.problem(now) for link in links)) if p]
    if archive_error:
        problems.append(f"clickhouse: {archive_error}")
    body = {"status": "failing" if problems else "ok", "problems": problems, "archive_rows": archive_rows,
            "ingest": {s.name: s.as_dict() for s in storing}, "nats": {link.name: link.as_dict() for link in links}}
    return (503 if problems else 200), body
