"""What every transport's driver offers the rest of the edge, and the errors it raises.

A *driver* serves one meter (backfill, clock, relay, current readings, availability, its
status); a *transport* holds the drivers of one kind of link (Modbus TCP and RTU share one,
LoRaWAN has its own) and the loops they share. A transport's module is loaded only when a meter
needs it (edge/drivers/registry.py ``TRANSPORTS``); edge/commands.py and edge/status.py see only
these protocols, never a driver's internals. This module imports neither pymodbus nor paho.
Tests: tests/integration/test_edge_drivers.py.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from edge.config import MeterConfig
    from protocol.vocabulary import ArchiveKind

Job = Callable[["asyncio.Event"], Awaitable[None]]  # a loop that runs until its event is set
GapSummary = Mapping[str, Mapping[str, object]]  # per meter: open_gaps, oldest_gap, lost_periods (edge/gaps.py)


class DriverError(Exception):
    """A driver could not do what it was asked; ``detail`` (the reason first) goes into the
    command's ``failed`` result."""

    def __init__(self, reason: str, **detail: object) -> None:
        super().__init__(reason)
        self.detail: dict[str, Any] = {"reason": reason, **detail}


class DeviceError(DriverError):
    """The device did not answer, refused, or answered something we cannot use."""


class Unsupported(DriverError):
    """The meter's transport or model cannot do this at all (a Modbus heat meter has no relay)."""


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One meter as an operator sees it (edge/status.py): where it is, when it last answered,
    its latest error (empty once it answered again), its clock and its gaps."""

    serial: str
    model: str
    transport: str
    endpoint: str  # "host:port #unit", "/dev/ttyUSB0@9600 #unit" or the devEUI
    last_ok_at: float | None
    last_error: str
    last_error_at: float | None
    clock_offset_s: float | None
    clock_corrections: int
    open_gaps: int
    oldest_gap: str | None
    lost_periods: int

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        out = asdict(self)
        out["last_ok_age_s"] = None if self.last_ok_at is None else round(now - self.last_ok_at, 1)
        return out


def gap_counts(gaps: GapSummary, serial: str) -> dict[str, Any]:
    """A meter's entry of a GapBook summary, zeros when it has no gaps."""
    own = gaps.get(serial, {})
    return {"open_gaps": own.get("open_gaps", 0), "oldest_gap": own.get("oldest_gap"),
            "lost_periods": own.get("lost_periods", 0)}


class Driver(Protocol):
    """One meter on one transport. Every operation either returns the detail of a ``done``
    result or raises DriverError (Unsupported when the transport cannot do it at all)."""

    meter: MeterConfig

    @property
    def endpoint(self) -> str:
        """Where the edge finds the meter, for a person."""
        ...

    def job(self) -> Job | None:
        """The meter's own loop (a Modbus meter's poller), or None when its transport's shared
        loop serves it (LoRaWAN uplinks)."""
        ...

    async def backfill(self, kind: ArchiveKind, first_utc: int, last_utc: int) -> dict[str, object]: ...

    async def time_sync(self, force: bool = False) -> dict[str, object]: ...

    async def relay(self, on: bool, limit_w: int = 0) -> dict[str, object]: ...

    async def availability(self) -> dict[str, object]: ...

    async def read_current(self) -> dict[str, object]: ...

    def status(self, gaps: GapSummary) -> DeviceStatus:
        """The meter's status; ``gaps`` is its transport's gap summary, read once for all meters."""
        ...


class Transport(Protocol):
    """The drivers of one kind of link and the loops they share. A transport module exposes
    ``open_transport(config, buffer) -> Transport``."""

    def make(self, meter: MeterConfig) -> Driver:
        """A driver for ``meter``, nothing started; raises ConfigError when it cannot be served."""
        ...

    def set_meters(self, meters: list[MeterConfig]) -> None:
        """The site's whole meter list after a push (a transport picks its own)."""
        ...

    def jobs(self) -> list[tuple[str, Job]]:
        """Loops shared by the transport's meters (named, for the agent's supervisor)."""
        ...

    def gap_summary(self) -> GapSummary: ...

    def link_status(self) -> dict[str, object]:
        """Top-level status of the transport's own link, e.g. ``{"mqtt_connected": True}``."""
        ...

    def log_fields(self) -> dict[str, object]:
        """Counters for the agent's periodic status log line."""
        ...

    def close(self) -> None: ...


class Drivers(Protocol):
    """How edge/commands.py and edge/status.py reach the meters: by serial, or all of them in
    the site's order (edge/drivers/registry.py implements it)."""

    def driver(self, serial: str) -> Driver | None: ...

    def drivers(self) -> list[Driver]: ...

    def statuses(self) -> list[DeviceStatus]:
        """Every meter's status, each transport's gaps read once."""
        ...

    def link_status(self) -> dict[str, object]:
        """The loaded transports' own links (edge/status.py's top level)."""
        ...
