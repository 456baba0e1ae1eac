"""`domuchet demo` on a fresh data directory starts with its history (docs/demo.md): the devices
hold it in their archives and the edge backfills it through its real paths (Modbus reads by
period, archive-request downlinks), so within seconds ClickHouse has every hour and day of the
last N days for every meter, nothing later than now, nothing lost, and the faults the scenario
injected in that time (a meter off the air for half a day, a lossy radio) leave no hole: the
archives outlive them. Started again, it continues from the stored state.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protocol.periods import local_to_utc, zone
from simulators.scenario import SCENARIO_DIR
from tests.conftest import free_port

HISTORY_DAYS = 3
HISTORY_S = 45  # the stated time: 3 days of 13 meters take about 6 s on a laptop
FAULTS = """
[[faults]]
kind = "offline"
device = "30700101"
at_hour = 30
hours = 12

[[faults]]
kind = "offline"
device = "223420002"
at_hour = 30
hours = 12

[[faults]]
kind = "radio_loss"
device = "223420003"
at_hour = 24
hours = 48
rate = 0.5
"""
# the heat calculator and twelve apartments' Compact-2 meters (apartment 13's waits, unregistered, for
# an engineer: nothing of it is stored)
METERS = ["30700101", *(f"2234200{i:02d}" for i in range(1, 13))]


class Demo:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.scenario = tmp / "demo-faults.toml"
        self.scenario.write_text((SCENARIO_DIR / "demo.toml").read_text() + FAULTS)
        self.ports = [str(free_port()) for _ in range(6)]
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        self.out = self.tmp / f"demo-{self.runs}.out"
        self.log = open(self.out, "wb")  # closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
        env["DOMUCHET_EDGE_STATUS_PORT"] = "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "domuchet", "demo", "--data-dir", str(self.data_dir), "--port", self.ports[0],
             "--nats-port", self.ports[1], "--mqtt-port", self.ports[2], "--modbus-port", self.ports[3],
             "--weather-port", self.ports[4], "--billing-port", self.ports[5], "--scenario", str(self.scenario),
             "--history-days", str(HISTORY_DAYS)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_complete(self, timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while (found := re.search(r"history complete ([\d.]+) s after start", self.text())) is None:
            assert self.proc.poll() is None, f"the demo stopped:\n{self.text()}"
            assert time.monotonic() < deadline, f"history not complete within {timeout_s} s:\n{self.text()}"
            time.sleep(0.5)
        return float(found[1])

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()

    def sql(self, query: str) -> list[list[str]]:
        done = subprocess.run([sys.executable, "-m", "domuchet", "sql", "--data-dir", str(self.data_dir), query],
                              capture_output=True, text=True, timeout=60, check=True)
        return [line.split("\t") for line in done.stdout.splitlines() if line]


def _commissioning(demo: Demo) -> datetime:
    text = (demo.data_dir / "sim" / "state.json").read_text()
    return datetime.fromisoformat(re.search(r'"commissioning": "([^"]+)"', text)[1])


def _check_history(demo: Demo, now: datetime) -> None:
    """Every hour from commissioning to the last closed one and every whole day, for every meter;
    nothing later than ``now``; nothing lost."""
    commissioning = _commissioning(demo)
    tz = zone("Europe/Moscow")
    # 23:00 Moscow (20:00 UTC) on the day before the history's HISTORY_DAYS whole days
    local = commissioning.astimezone(tz)
    assert (local.hour, local.minute) == (23, 0)
    assert local.date() == now.astimezone(tz).date() - timedelta(days=HISTORY_DAYS + 1)
    last_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)  # the last closed hour
    hours = int((last_hour - commissioning).total_seconds() // 3600) + 1
    first_day = local_to_utc(datetime.combine(local.date() + timedelta(days=1), datetime.min.time()), tz)
    days = HISTORY_DAYS  # the whole days before today
    rows = demo.sql("SELECT meter, kind, count(DISTINCT period_start), min(period_start), max(period_start) "
                    "FROM domuchet.archive GROUP BY meter, kind ORDER BY meter, kind")
    got = {(r[0], r[1]): (int(r[2]), r[3], r[4]) for r in rows}
    naive = "%Y-%m-%d %H:%M:%S"
    for meter in METERS:
        assert got[(meter, "hour")][0] >= hours, (meter, got[(meter, "hour")], hours)
        assert got[(meter, "hour")][1] == commissioning.strftime(naive)
        assert got[(meter, "day")][0] >= days, (meter, got[(meter, "day")])
        assert got[(meter, "day")][1] == first_day.strftime(naive)
    assert {m for m, _ in got} == set(METERS)
    # no stored period ends after the clock (an hour ends an hour after its start; a day a day after)
    [[latest_hour_end]] = demo.sql("SELECT max(period_start) + INTERVAL 1 HOUR FROM domuchet.archive "
                                   "WHERE kind = 'hour'")
    assert datetime.strptime(latest_hour_end, naive).replace(tzinfo=UTC) <= datetime.now(UTC)
    [[latest_day_end]] = demo.sql("SELECT max(period_start) + INTERVAL 1 DAY FROM domuchet.archive "
                                  "WHERE kind = 'day'")
    assert datetime.strptime(latest_day_end, naive).replace(tzinfo=UTC) <= datetime.now(UTC)
    # the offline half-day (hours 30-41) and the lossy radio came back from the archives: nothing lost
    assert demo.sql("SELECT count() FROM domuchet.lost_periods") == [["0"]]


def test_demo_starts_with_its_history_and_continues_after_a_restart(tmp_path: Path) -> None:
    demo = Demo(tmp_path)
    demo.start()
    try:
        took = demo.wait_complete(HISTORY_S)
    finally:
        assert demo.stop() == 0, demo.text()
    print(f"{HISTORY_DAYS} days of history in {took:.1f} s")
    assert "history complete" in demo.text()
    _check_history(demo, datetime.now(UTC))
    commissioning = _commissioning(demo)
    before = demo.sql("SELECT count() FROM domuchet.archive FINAL")[0][0]

    time.sleep(2)  # a pause; started again it continues from the stored state
    demo.start()
    try:
        demo.wait_complete(HISTORY_S)
        assert "continuing from the stored state" in demo.text()
    finally:
        assert demo.stop() == 0, demo.text()
    assert _commissioning(demo) == commissioning
    _check_history(demo, datetime.now(UTC))
    assert int(demo.sql("SELECT count() FROM domuchet.archive FINAL")[0][0]) >= int(before)


FLEET = """
seed = 7
start = "auto"

[[buildings]]
count = 2
site = "quay"
address = "г. Казань, ул. Набережная, д. 3"
time_zone = "Europe/Moscow"
apartments = 3
unregistered_meters = 1
"""


def test_a_fleet_scenario_runs_as_one_company_with_one_edge_site(tmp_path: Path) -> None:
    """`domuchet demo --scenario FILE` of several buildings (docs/demo.md, demo-fleet.toml): each
    building is registered with its own address and personal accounts, one edge site (a district's
    gateway, named after the file) reads them all, and every registered meter of every building
    has its history (two apartments' Compact-2 and the heat calculator each; the third apartment's
    meter waits for an engineer)."""
    demo = Demo(tmp_path)
    demo.scenario = tmp_path / "quay.toml"
    demo.scenario.write_text(FLEET)
    demo.start()
    try:
        demo.wait_complete(HISTORY_S)
    finally:
        assert demo.stop() == 0, demo.text()
    text = demo.text()
    assert "simulated buildings: 2" in text
    assert "one edge site 'quay'" in text
    edge = (demo.data_dir / "edge.toml").read_text()
    assert 'site = "quay"' in edge
    assert edge.count("[[edge.meters]]") == 6
    with sqlite3.connect(demo.data_dir / "cloud" / "registry.db") as db:
        buildings = db.execute("SELECT site, address FROM buildings ORDER BY address").fetchall()
        accounts = [r[0] for r in db.execute("SELECT account FROM premises ORDER BY account")]
    assert buildings == [("quay", "г. Казань, ул. Набережная, д. 3, корп. 1"),
                         ("quay", "г. Казань, ул. Набережная, д. 3, корп. 2")]
    assert accounts == ["QUAY-1-0001", "QUAY-1-0002", "QUAY-1-0003", "QUAY-2-0001", "QUAY-2-0002", "QUAY-2-0003"]
    # seeds 7 and 8: heat calculators 30707001 and 30708001, apartments' meters 2230700NN and 2230800NN
    rows = demo.sql("SELECT meter, count(DISTINCT period_start) FROM domuchet.archive WHERE kind = 'day' "
                    "GROUP BY meter ORDER BY meter")
    assert [r[0] for r in rows] == ["223070001", "223070002", "223080001", "223080002", "30707001", "30708001"]
    assert all(int(r[1]) >= HISTORY_DAYS for r in rows), rows
