"""`domuchet cloud` as its own process for the tests that need the real server: its HTTP
answers, the files it leaves, its log. ``start_cloud`` waits until /api/health answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port


@dataclass(frozen=True, slots=True)
class CloudProcess:
    url: str
    data_dir: Path
    cwd: Path
    log: Path
    proc: subprocess.Popen


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of a GET, errors included."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a loopback test URL
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def plain_env() -> dict[str, str]:
    """The environment without pytest's and NiceGUI's test markers: NiceGUI switches ui.run to its
    screen-test mode when it sees them."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}


@contextmanager
def start_cloud(nats_url: str, root: Path, extra_config: str = "") -> Iterator[CloudProcess]:
    """`domuchet cloud` with its data directory under ``root`` and ``root/work`` as working directory."""
    cwd, data_dir = root / "work", root / "data"
    cwd.mkdir(parents=True, exist_ok=True)
    config = root / "cloud.toml"
    port = free_port()
    config.write_text(f'[cloud]\nport = {port}\nnats_url = "{nats_url}"\n{extra_config}')
    log = root / "cloud.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "domuchet", "cloud", "--config", str(config),
                                 "--data-dir", str(data_dir)], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env=plain_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"domuchet cloud exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                get(url + "/api/health")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield CloudProcess(url, data_dir, cwd, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def local_api(cloud: CloudProcess) -> dict:
    return json.loads((cloud.data_dir / "cloud" / "local-api.json").read_text())
