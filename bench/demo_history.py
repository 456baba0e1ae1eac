"""Wall time from `domuchet demo` on an empty data directory to the history stored (every hour and
day since commissioning in ClickHouse, or reported lost as older than the devices keep): the
demo's "history complete N s after start" line. Targets for 62 days: under 60 s for the demo
building, under 5 min for the 10-building fleet (`--scenario demo-fleet`, one edge site).

    python -m bench.demo_history [--days 62] [--quick] [--building-only]

Prints figures, ends with one JSON line; no pass or fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_block(count: int) -> int:
    """A first port with ``count`` free ports from it (the fleet serves building k's Modbus on first + k),
    below the ephemeral range, where a client socket could take one of them meanwhile."""
    for first in range(20_000, 32_000, 97):
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no run of free ports in 20000-32000")


def run(days: int, timeout_s: float, scenario: str = "demo") -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="demo-history-") as tmp:
        out = Path(tmp) / "demo.out"
        env = {**os.environ, "DOMUCHET_EDGE_STATUS_PORT": "0"}
        started = time.monotonic()
        with out.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "domuchet", "demo", "--data-dir", str(Path(tmp) / "data"),
                 "--port", str(_port()), "--nats-port", str(_port()), "--mqtt-port", str(_port()),
                 "--modbus-port", str(_port_block(10)), "--weather-port", str(_port()), "--billing-port", str(_port()),
                 "--scenario", scenario, "--history-days", str(days)], stdout=log, stderr=subprocess.STDOUT,
                env=env)
            try:
                up = complete = None
                while time.monotonic() - started < timeout_s and proc.poll() is None:
                    text = out.read_text(errors="replace")
                    if up is None and "demo is up" in text:
                        up = time.monotonic() - started
                    if found := re.search(r"history complete ([\d.]+) s after start", text):
                        complete = float(found[1])
                        break
                    time.sleep(0.5)
                total = time.monotonic() - started
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        lines = [line for line in out.read_text(errors="replace").splitlines() if "history since" in line]
    return {"scenario": scenario, "days": days, "up_s": up, "history_after_start_s": complete,
            "wall_s": round(total, 1), "last_progress": lines[-1].strip() if lines else ""}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=62)
    p.add_argument("--quick", action="store_true", help="3 days instead")
    p.add_argument("--building-only", action="store_true", help="not the 10-building fleet")
    args = p.parse_args()
    days = 3 if args.quick else args.days
    building = run(days, 300.0)
    print(f"demo building, {days} days of history: demo up after {building['up_s']:.1f} s, history complete "
          f"{building['history_after_start_s']} s after start (wall {building['wall_s']} s); target < 60 s")
    print(f"  {building['last_progress']}")
    figures: dict[str, object] = {"building": building}
    if not args.building_only:
        fleet = run(days, 900.0, "demo-fleet")
        print(f"10-building fleet, {days} days of history: demo up after {fleet['up_s']:.1f} s, history complete "
              f"{fleet['history_after_start_s']} s after start (wall {fleet['wall_s']} s); target < 300 s")
        print(f"  {fleet['last_progress']}")
        figures["fleet"] = fleet
    print(json.dumps({"bench": "demo_history", "days": days, **figures}, ensure_ascii=False))


if __name__ == "__main__":
    main()
