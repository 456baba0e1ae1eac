"""RS-485 throughput: KARAT-307/306 meters fully read per minute on one 9600-baud Modbus RTU bus.

The field engineer's question: how many heat calculators can one bus serve with hourly reads?
N simulated units (unit ids 1..N, every second one a KARAT-306) share one simulated RS-485 line,
read by the edge's own code (edge/drivers: one ModbusLink.rtu for the bus, a Karat307Client and
a Karat307Poller per meter, every poller's run loop started at once as the agent starts them,
EdgeConfig's defaults) into a Buffer. The pollers run for a warm-up (each reads its meter's clock
every poll interval, as in service) until the devices' hour turns; measured: meters fully read
per minute = N / the time from the turn until the last meter's new hour is stored. ``--backlog H``
measures a cold start instead: H closed hours per meter already waiting (the edge's first start,
or the bus back after an outage), timed from the pollers' start.

Wire-time limit, from the frames' bytes: per meter one clock read (FC03, 2 registers) and per hour
an archive request (FC16, 3 registers) and a record read (FC03, RECORD_LENGTH registers); each
request and response is address + PDU + CRC bytes, 10 bits a byte (8N1), plus the 3.5-character
silence that ends every RTU frame. The limit is the meters per minute if the bus carried only
those frames back to back. Target: at least 80 % of it.

Pacing: a pty ignores the baud rate and carries bytes as fast as the CPU copies them, so the
device side (a child process: pymodbus's RTU server for the N units, as simulators/serial_line.py
serves them) joins the two ptys with PacedLine, a NullModem that holds every chunk until its wire
time has passed: a frame starts no earlier than 3.5 character times after the previous frame
ended (either direction: RS-485 is half duplex), takes 10 bits a byte at the baud rate, and is
delivered when its last byte would arrive. That side runs on a select() event loop (microsecond
timers; epoll's are rounded up to the millisecond). The edge's code is not touched; it runs
alone in this process. Run: python -m bench.rs485 [--quick] [--meters N] [--backlog H]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import Gap, GapBook
from protocol import karat307 as regs
from protocol.vocabulary import ArchiveKind
from protocol.wire import ArchiveRecord

SITE = "bench-rs485"
TIME_ZONE = "Europe/Moscow"  # the simulated building's (BuildingSpec's default)
TARGET = 0.8
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
GAP_CHARS = 3.5  # the RTU inter-frame silence, in character times


# --- the wire-time limit ----------------------------------------------------------------------
def read_frames(count: int) -> tuple[int, int]:
    """FC03 request and response bytes: address + PDU + CRC(2). Request PDU: function, start(2),
    quantity(2); response PDU: function, byte count, 2 bytes a register."""
    return 1 + 5 + 2, 1 + 2 + 2 * count + 2


def write_frames(count: int) -> tuple[int, int]:
    """FC16 request and response bytes. Request PDU: function, start(2), quantity(2), byte count,
    2 bytes a register; response PDU: function, start(2), quantity(2)."""
    return 1 + 6 + 2 * count + 2, 1 + 5 + 2


def meter_frames(hours: int) -> list[int]:
    """The bytes of every frame one meter's read puts on the bus: the clock, then per hour the
    archive request and the record."""
    frames = list(read_frames(2))  # REG_CLOCK: a u32
    for _ in range(hours):
        frames += write_frames(len(regs.encode_archive_request(ArchiveKind.HOUR, 0)))
        frames += read_frames(regs.RECORD_LENGTH)
    return frames


def wire_seconds(frames: Iterable[int], baudrate: int) -> float:
    """Bus time of frames sent back to back, each followed by the 3.5-character silence."""
    return sum(n + GAP_CHARS for n in frames) * BITS_PER_BYTE / baudrate


# --- the device side (child process) ---------------------------------------------------------
def _paced_line_class() -> type:
    from simulators.serial_line import NullModem

    class PacedLine(NullModem):
        """A NullModem that moves bytes at the baud rate of a half-duplex bus (module docstring)."""

        def __init__(self, baudrate: int) -> None:
            super().__init__()
            self.char_s = BITS_PER_BYTE / baudrate
            self.free_at = 0.0  # the bus has been silent long enough for a new frame from then on
            self.frame: tuple[int, float] = (-1, 0.0)  # direction and end of the frame on the wire
            self.log: list[tuple[float, int]] = []  # (end, bytes) of every frame, in order

        def _forward(self, dst: int, data: bytes, direction: int) -> None:
            assert self._loop is not None
            now = self._loop.time()
            took = len(data) * self.char_s
            same, end = self.frame
            if same == direction and now <= end:  # more of the frame still on the wire
                end += took
                self.log[-1] = (end, self.log[-1][1] + len(data))
            else:
                end = max(now, self.free_at) + took
                self.log.append((end, len(data)))
            self.frame = (direction, end)
            self.free_at = end + GAP_CHARS * self.char_s
            self.copied[direction] += len(data)
            self._loop.call_at(end, self._write, dst, data)

    return PacedLine


async def _serve_devices(meters: int, commissioning: datetime, hours: int, baudrate: int) -> dict:
    from simulators.karat307 import Karat307
    from simulators.scenario import BuildingSpec, Scenario, plan
    from simulators.serial_line import rtu_server
    from simulators.world import SimClock, World

    spec = BuildingSpec(site=SITE, address="bench", apartments=2, time_zone=TIME_ZONE)
    scenario = Scenario(spec, seed=5, start=commissioning.strftime("%Y-%m-%dT%H:%M"))
    world = World(scenario, plan(scenario), commissioning)
    devices = [Karat307(world, SimClock(commissioning, 1.0), unit, serial=_serial(unit), model_code=_model(unit))
               for unit in range(1, meters + 1)]
    line = _paced_line_class()(baudrate)
    line.start()
    server = rtu_server([d.sim_device() for d in devices], line, baudrate)
    await server.serve_forever(background=True)
    loop = asyncio.get_running_loop()
    print(json.dumps({"edge_port": line.edge_port}), flush=True)
    # the bench names the moment (time.monotonic(), shared by both processes) the H-th hour turns
    turn_at = float(await loop.run_in_executor(None, sys.stdin.readline))
    clock = SimClock(commissioning + timedelta(hours=hours) - timedelta(seconds=turn_at - time.monotonic()), 1.0)
    for device in devices:
        device.clock = clock
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
    await server.shutdown()
    line.close()
    return {"frames": line.log}


def device_side(meters: int, commissioning: str, hours: int, baudrate: int) -> None:
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        stats = loop.run_until_complete(_serve_devices(meters, datetime.fromisoformat(commissioning), hours,
                                                       baudrate))
    finally:
        loop.close()
    print(json.dumps(stats), flush=True)


def _model(unit: int) -> int:
    return 306 if unit % 2 == 0 else 307


def _serial(unit: int) -> str:
    return f"{_model(unit)}{unit:05d}"


# --- the edge side (this process) -------------------------------------------------------------
class TimedGaps(GapBook):
    """The poller's GapBook, noting when (time.monotonic()) each meter's hours are stored."""

    def __init__(self, poller: Karat307Poller, stored: dict[str, list[float]]) -> None:
        super().__init__(poller.buffer, poller.config.poll_interval_s, poller.config.gap_backoff_max_s)
        self.stored = stored

    def fill(self, gap: Gap, records: Iterable[ArchiveRecord], clock_offset_s: float) -> int:
        added = super().fill(gap, records, clock_offset_s)
        self.stored[gap.meter].append(time.monotonic())
        return added


@dataclass
class Run:
    meters: int
    hours: int  # closed hours each meter has to give
    baudrate: int
    warmup_s: float  # > 0: the hour turns this long after the pollers start; 0: the hours wait already
    commissioning: datetime
    data_dir: str | None = None  # where the buffer's temporary directory goes (None: the system's)


async def read_bus(run: Run, port: str, device: subprocess.Popen, data_dir: Path,
                   timeout_s: float) -> tuple[float, float, dict[str, list[float]], list[str]]:
    """Start every meter's poller on one bus; returns when the timing starts (the turn, or the
    pollers' start), when the last meter's last hour was stored (time.monotonic()), the store
    times per meter and the pollers' last errors."""
    assert device.stdin is not None
    assert device.stdout is not None
    specs = [MeterConfig(serial=_serial(u), model=f"KARAT-{_model(u)}", transport="modbus-rtu",
                         commissioned=run.commissioning.isoformat(), serial_port=port, baudrate=run.baudrate, unit=u)
             for u in range(1, run.meters + 1)]
    config = EdgeConfig(site=SITE, time_zone=TIME_ZONE, data_dir=data_dir, status_port=0, meters=specs)
    buffer = Buffer(data_dir / "buffer.db")
    link = ModbusLink.rtu(port, run.baudrate)
    await link.ensure()  # opening the port is not part of the figure
    stored: dict[str, list[float]] = {m.serial: [] for m in specs}
    pollers = [Karat307Poller(m, config, buffer, Karat307Client(link, m.unit)) for m in specs]
    for p in pollers:
        p.gaps = TimedGaps(p, stored)
    start = time.monotonic()
    turn_at = start + run.warmup_s if run.warmup_s > 0 else start - 1800  # backlog: the hours closed long ago
    device.stdin.write(f"{turn_at!r}\n")
    device.stdin.flush()
    if device.stdout.readline().strip() != "ready":
        raise RuntimeError("the device side did not set its clock")
    stop = asyncio.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(p.run(stop)) for p in pollers]
    try:
        while any(len(times) < run.hours for times in stored.values()):
            if time.monotonic() - start > timeout_s:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        link.close()
        buffer.close()
    early = [serial for serial, times in stored.items() if times and min(times) < turn_at]
    if early:
        raise RuntimeError(f"hours stored before the turn (the clocks disagree): {early[:5]}")
    complete = [times[-1] for times in stored.values() if len(times) >= run.hours]
    began = max(turn_at, started)
    end = max(complete) if len(complete) == run.meters else time.monotonic()
    errors = [f"{p.meter.serial}: {p.last_error}" for p in pollers if p.last_error]
    return began, end, stored, errors


def measure(run: Run) -> dict[str, Any]:
    frames = meter_frames(run.hours)
    per_meter = wire_seconds(frames, run.baudrate)
    limit = 60 / per_meter
    what = (f"the hour turns {run.warmup_s:.0f} s after the pollers start; timed from the turn" if run.warmup_s
            else f"{run.hours} closed hours waiting on each; timed from the pollers' start")
    print(f"one RS-485 bus at {run.baudrate} baud 8N1 (a paced pty pair), {run.meters} KARAT-307/306 units read by "
          f"the edge's pollers; {what}")
    print(f"  wire time of one meter's read: {len(frames)} frames, {sum(frames)} bytes + {GAP_CHARS} characters of "
          f"silence a frame = {per_meter * 1000:.1f} ms -> limit {limit:.1f} meters/min")
    device = subprocess.Popen([sys.executable, "-m", "bench.rs485", "--device-side", run.commissioning.isoformat(),
                               "--meters", str(run.meters), "--backlog", str(run.hours), "--baudrate",
                               str(run.baudrate)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert device.stdin is not None
    assert device.stdout is not None
    try:
        port = json.loads(device.stdout.readline())["edge_port"]
        with tempfile.TemporaryDirectory(prefix="bench-rs485-", dir=run.data_dir) as tmp:
            began, end, stored, errors = asyncio.run(read_bus(run, port, device, Path(tmp),
                                                              run.warmup_s + 3 * run.meters * per_meter + 30))
    finally:
        device.stdin.close()
        line = json.loads(device.stdout.readline() or '{"frames": []}')
        device.wait(timeout=30)
    elapsed = end - began
    read = sum(1 for times in stored.values() if len(times) >= run.hours)
    rate = read * 60 / elapsed
    ratio = rate / limit
    on_line = [n for at, n in line["frames"] if began < at <= end]
    print(f"  {read} of {run.meters} meters fully read in {elapsed:.2f} s -> {rate:.1f} meters/min, "
          f"{ratio:.0%} of the limit (target {TARGET:.0%})")
    print(f"  on the line meanwhile: {len(on_line)} frames, {sum(on_line)} bytes (the reads need "
          f"{run.meters * len(frames)} frames, {run.meters * sum(frames)} bytes)")
    for error in errors[:5]:
        print(f"  poller error: {error}")
    return {"bench": "rs485", "baudrate": run.baudrate, "meters": run.meters, "hours_per_meter": run.hours,
            "mode": "hourly" if run.warmup_s else "backlog", "meters_read": read, "seconds": round(elapsed, 3),
            "meters_per_min": round(rate, 1), "limit_meters_per_min": round(limit, 1),
            "wire_ms_per_meter": round(per_meter * 1000, 2), "ratio": round(ratio, 3), "target_ratio": TARGET,
            "frames_on_line": len(on_line), "frames_needed": run.meters * len(frames), "poller_errors": len(errors)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="40 meters instead of 240")
    ap.add_argument("--meters", type=int, help="units on the bus, 1..247")
    ap.add_argument("--backlog", type=int, default=0, metavar="H",
                    help="a cold start with H closed hours per meter instead of the hour turning")
    ap.add_argument("--baudrate", type=int, default=9600)
    ap.add_argument("--data-dir", help="put the edge's buffer here (the gateway's own disk: its commits block the "
                                       "event loop) instead of the system's temporary directory")
    ap.add_argument("--device-side", metavar="COMMISSIONED", help=argparse.SUPPRESS)
    args = ap.parse_args()
    meters = args.meters or (40 if args.quick else 240)
    if not 1 <= meters <= 247:
        raise SystemExit(f"--meters must be 1..247 (Modbus unit ids), got {meters}")
    if args.backlog < 0:
        raise SystemExit(f"--backlog must be at least 0, got {args.backlog}")
    hours = args.backlog or 1
    if args.device_side:
        device_side(meters, args.device_side, hours, args.baudrate)
        return
    # long enough for every poller to have read its clock twice on a bus full of clock reads
    clock_read = wire_seconds(read_frames(2), args.baudrate)
    warmup = 0.0 if args.backlog else max(5.0, 3 * meters * clock_read)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    result = measure(Run(meters, hours, args.baudrate, warmup, now - timedelta(hours=hours - 1), args.data_dir))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
