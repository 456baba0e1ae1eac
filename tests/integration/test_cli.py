"""The `domuchet` command line: bad config is refused with the file and the key, `domuchet sim`
prints one JSON line per device, `domuchet nats` serves NATS and MQTT, `domuchet sql` refuses writes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from domuchet.cli import main
from domuchet.natsserver import wait_for_port
from tests.conftest import free_port


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("[cloud]\nprot = 8080\n", "cloud.prot", "did you mean 'port'"),
    ("[cloud]\nport = \"eighty\"\n", "cloud.port", "expected int"),
    ("[cloud]\nsession_hours = 48\n", "cloud", "at least daily"),
    ("[clouds]\nport = 1\n", "clouds", "unknown table"),
    ("[cloud\nport = 1\n", "(syntax)", ""),
])
def test_bad_config_names_file_and_key(tmp_path: Path, capsys, text: str, key: str, reason: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["sql", "--config", str(config), "--data-dir", str(tmp_path), "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert f"{config}: {key}" in err
    assert reason in err


def test_environment_override_is_checked(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMUCHET_CLOUD_PORT", "not-a-port")
    assert main(["sql", "--data-dir", str(tmp_path), "SELECT 1"]) == 2
    assert "DOMUCHET_CLOUD_PORT" in capsys.readouterr().err


def test_an_environment_value_out_of_range_names_the_variable(tmp_path: Path, capsys,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # without a config file the source used to read "(defaults)", which the operator never wrote
    monkeypatch.setenv("DOMUCHET_CLOUD_SESSION_HOURS", "48")
    assert main(["sql", "--data-dir", str(tmp_path), "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert "environment DOMUCHET_CLOUD_SESSION_HOURS: cloud.session_hours: must be in (0, 24]" in err
    assert "(defaults)" not in err


def test_edge_refuses_a_negative_poll_interval(tmp_path: Path, capsys) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[edge]\nsite = "demo"\ntime_zone = "Europe/Moscow"\npoll_interval_s = -1\n')
    assert main(["edge", "--config", str(config), "--data-dir", str(tmp_path)]) == 2
    assert f"{config}: edge.poll_interval_s: must be 0.05..3600, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "edge").exists()  # refused before the agent made its buffer


def test_demo_refuses_another_scenarios_data_directory(tmp_path: Path, capsys) -> None:
    """A data directory made by the one-building demo (edge site "demo") is not continued as the
    fleet (site "demo-fleet"): its buffer and registry belong to the other site. Nothing is made."""
    (tmp_path / "edge.toml").write_text('[edge]\nsite = "demo"\n')
    assert main(["demo", "--data-dir", str(tmp_path), "--scenario", "demo-fleet"]) == 2
    err = capsys.readouterr().err
    assert "holds the demo of edge site 'demo'" in err
    assert "give it another --data-dir" in err
    assert not (tmp_path / "sim").exists()


def test_sql_refuses_writes_and_files_by_the_parser(tmp_path: Path) -> None:
    # ClickHouse's parser decides (cloud/storage/sql_guard.py), so the storage is opened: in a
    # process of its own, as chDB holds one directory per process. A leading comment used to
    # pass the old pattern, and INTO OUTFILE overwrote any file.
    def sql(query: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "domuchet", "sql", "--data-dir", str(tmp_path), query],
                              capture_output=True, text=True, timeout=120, check=False)
    kept = tmp_path / "kept.txt"
    kept.write_text("kept\n")
    insert = sql("/**/INSERT INTO domuchet.dead_letter (id) VALUES ('x')")
    assert (insert.returncode, insert.stderr) == (2, "domuchet sql: refused: only SELECT is allowed, not INSERT\n")
    outfile = sql(f"SELECT 'x' INTO OUTFILE '{kept}' TRUNCATE")
    assert (outfile.returncode, outfile.stderr) == (
        2, "domuchet sql: refused: INTO OUTFILE and FORMAT are not allowed\n")
    assert kept.read_text() == "kept\n"
    count = sql("SELECT count() FROM domuchet.dead_letter")
    assert (count.returncode, count.stdout) == (0, "0\n"), count.stderr


def test_sim_prints_one_json_line_per_device_and_takes_a_magnet(tmp_path: Path) -> None:
    modbus, control = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "domuchet", "sim", "--data-dir", str(tmp_path), "--modbus-port",
                             str(modbus), "--mqtt-port", str(free_port()), "--control-port", str(control)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the demo building: the KARAT-307 and 13 apartments' Compact-2 meters
        lines = [json.loads(proc.stdout.readline()) for _ in range(14)]
        wait_for_port("127.0.0.1", modbus, proc)
        wait_for_port("127.0.0.1", control, proc)
        radio = [line for line in lines if line["endpoint"]["transport"] == "lorawan"]
        woken = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{control}/magnet/{radio[0]['endpoint']['dev_eui']}", method="POST"), timeout=10)
        assert woken.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    heat = lines[0]
    assert heat["model"] == "KARAT-307"
    assert heat["endpoint"] == {"transport": "modbus-tcp", "host": "127.0.0.1", "port": modbus, "unit": 1}
    assert len(radio) == 13
    assert len({r["endpoint"]["dev_eui"] for r in radio}) == 13
    assert all(r["endpoint"]["topic"].endswith(f"/device/{r['endpoint']['dev_eui']}/event/up") for r in radio)
    assert (tmp_path / "sim" / "state.json").exists()


def test_nats_command_serves_nats_and_mqtt(tmp_path: Path) -> None:
    port, mqtt = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "domuchet", "nats", "--data-dir", str(tmp_path), "--port",
                             str(port), "--mqtt-port", str(mqtt)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, proc)
        wait_for_port("127.0.0.1", mqtt, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert (tmp_path / "nats" / "jetstream").is_dir()
