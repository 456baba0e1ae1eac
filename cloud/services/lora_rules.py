"""The rules of LoRa monitoring (manual 4.2.4), pure: which rows are one packet and which gateway
it is shown with, the function code, the windows, PER, the averages, and the multi-select rule.

No I/O: cloud/services/lora.py reads ``radio_packets`` and hands the rows here. Tests with
hand-computed numbers: tests/unit/cloud/test_lora_rules.py.

Packet numbers. ChirpStack reports ``fCnt`` as the device's full 32-bit uplink counter (it
extends a 16-bit frame counter itself), so 65535 → 65536 is an ordinary step, not a wrap. A
LoRaWAN device must re-join before its 32-bit counter would roll over, and a re-join (or a
re-registration on the network server) restarts it at 0: any packet number lower than the one
before it means the numbering restarted, and PER is not computed over a window that holds such
a step (manual 4.2.4, "смена нумерации пакетов"). A 32-bit rollover 4294967295 → 0 is such a
restart too.

Copies of one packet. The network server de-duplicates the gateways that heard one uplink, but
a late gateway or a re-delivered MQTT message can still put the same packet into the log twice.
Rows of one device with the same packet number and no other number between them (in time
order) are one packet. It is shown with the copy that has the best SNR (then the best RSSI, then
the earliest), because that is the gateway the network server picks to send downlinks through
(ChirpStack ranks a packet's gateways by link margin, i.e. SNR); its time is the first copy's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TypeVar

PER_DAYS = 10  # PER over the last 10 days ...
LOG_DAYS = 5  # the packet log: the last 5 days ...
MAX_PACKETS = 2000  # ... and in either, at most the last 2,000 packets
ROWS_PER_PACKET = 10  # rows read per packet at most (copies heard through several gateways)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of ``radio_packets`` (one copy of a packet), times aware UTC."""

    at: datetime
    direction: str  # "up" (device → network server) or "down" (commands sent to the device)
    f_cnt: int
    f_port: int
    rssi: int | None
    snr: float | None
    gateway: str
    frequency: int
    payload: str  # the raw payload as lower-case hex, before decoding
    error: str = ""  # why the edge could not use it ("" when it could)


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet as shown: the chosen copy's radio figures, the first copy's time."""

    at: datetime
    direction: str
    f_cnt: int | None  # None for a downlink (the edge does not learn the network server's down counter)
    f_port: int
    function_code: int | None  # the payload's template number (first byte); None for an empty payload
    snr: float | None  # dB
    rssi: int | None  # dBm
    gateway: str  # GW-MAC, "" when unknown (a downlink)
    frequency: int | None  # Hz; None when unknown (a downlink is logged without one)
    payload: str
    error: str
    copies: int = 1  # rows that were this packet (gateways or deliveries)


@dataclass(frozen=True, slots=True)
class Per:
    """PER over a window of uplinks: ``lost / expected`` with ``expected = last − first + 1`` of the
    packet numbers and ``lost = expected − received`` (distinct numbers received).

    ``per_pct`` is None when there is nothing to compute over (no uplink) or when the numbering
    restarted inside the window (``reset``): a number lower than the previous one.
    """

    per_pct: float | None
    received: int  # distinct packet numbers in the window
    expected: int | None  # None when not computed
    lost: int | None
    reset: bool = False
    first: datetime | None = None  # time of the window's oldest packet (UTC)


def function_code(payload_hex: str) -> int | None:
    """The payload template number ("код функции"): the first byte of every KARAT payload
    (protocol/lorawan.py, lorawan_up.py, lorawan_down.py). None for an empty or unreadable payload."""
    if len(payload_hex) < 2:
        return None
    try:
        return int(payload_hex[:2], 16)
    except ValueError:
        return None


def _rank(row: Row) -> tuple[float, float]:
    """Higher is better: SNR first, then RSSI; a missing figure ranks last."""
    return (row.snr if row.snr is not None else float("-inf"), row.rssi if row.rssi is not None else float("-inf"))


def _packet(copies: Sequence[Row]) -> Packet:
    best = max(copies, key=_rank)  # max keeps the first of equals: the earliest copy
    up = best.direction == "up"
    return Packet(at=copies[0].at, direction=best.direction, f_cnt=best.f_cnt if up else None, f_port=best.f_port,
                  function_code=function_code(best.payload), snr=best.snr, rssi=best.rssi, gateway=best.gateway,
                  frequency=best.frequency or None, payload=best.payload,
                  error=next((c.error for c in copies if c.error), ""), copies=len(copies))


def packets(rows: Iterable[Row]) -> list[Packet]:
    """The rows of one device and one direction, in time order, as packets: uplink copies of one
    packet number in a row are one packet (module docstring); every downlink is its own."""
    out: list[Packet] = []
    group: list[Row] = []
    for row in rows:
        if group and row.direction == "up" and group[0].direction == "up" and row.f_cnt == group[0].f_cnt:
            group.append(row)
            continue
        if group:
            out.append(_packet(group))
        group = [row]
    if group:
        out.append(_packet(group))
    return out


def window(items: Sequence[Packet], now: datetime, days: int, limit: int = MAX_PACKETS) -> list[Packet]:
    """The packets (time order) of the last ``days`` days up to ``now`` (after ``now - days``, not
    after ``now``), at most the newest ``limit`` of them."""
    since = now - timedelta(days=days)
    inside = [p for p in items if since < p.at <= now]
    return inside[-limit:] if limit else []


def per(uplinks: Sequence[Packet]) -> Per:
    """PER of the uplinks of a window (time order), by the formula of ``Per``.

    Example: numbers 10, 11, 13, 14 → expected 14 − 10 + 1 = 5, received 4, lost 1, PER 20 %.
    Numbers 10, 11, 3 → the numbering restarted: not computed.
    """
    ups = [p for p in uplinks if p.f_cnt is not None]
    return _per([p.f_cnt for p in ups if p.f_cnt is not None], ups[0].at if ups else None)


def per_of_rows(numbers: Sequence[int], times: Sequence[datetime], limit: int = MAX_PACKETS) -> Per:
    """``per`` over uplink rows given only by their packet numbers and times (time order, all inside
    the window's days): copies of one packet (the same number in a row) count once, and only the
    newest ``limit`` packets. The device table's PER for a whole building without a Packet per row."""
    kept = [i for i in range(len(numbers)) if i == 0 or numbers[i] != numbers[i - 1]][-limit:] if limit else []
    return _per([numbers[i] for i in kept], times[kept[0]] if kept else None)


def _per(numbers: Sequence[int], first: datetime | None) -> Per:
    if not numbers:
        return Per(None, 0, None, None)
    received = len(set(numbers))
    if any(b < a for a, b in pairwise(numbers)):
        return Per(None, received, None, None, reset=True, first=first)
    expected = numbers[-1] - numbers[0] + 1
    lost = expected - received
    return Per(round(100.0 * lost / expected, 2), received, expected, lost, first=first)


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the known values (None when none is known), rounded to 0.01."""
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


T = TypeVar("T")


def chosen(selected: Iterable[T], offered: Iterable[T]) -> frozenset[T] | None:
    """A multi-select's filter (manual 4.2.4): None (no filter) when nothing is selected or when
    everything offered is, since the two are the same choice; else the selected set."""
    picked = frozenset(selected)
    if not picked or picked >= frozenset(offered):
        return None
    return picked


def with_time(packet: Packet, at: datetime) -> Packet:
    """The packet with its time replaced (the service shows the building's local time)."""
    return replace(packet, at=at)
