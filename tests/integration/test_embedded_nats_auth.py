"""The embedded nats-server as `domuchet demo` and `domuchet nats` run it: accounts always on.
An anonymous client is refused; site A's user cannot publish on site B's subjects nor read B's
inbox; the cloud's user works; MQTT takes only the LoRaWAN feed's user, whose account cannot
reach the DU subjects at all."""

from __future__ import annotations

import asyncio
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import nats as nats_client
import paho.mqtt.client as mqtt
import pytest

from cloud.streams import ensure_streams
from domuchet import natsserver
from edge.nats_auth import connect_options
from protocol import subjects
from tests.conftest import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[natsserver.NatsSettings, natsserver.Credentials]]:
    cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port(), sites=["a", "b"])
    proc = natsserver.start(cfg, tmp_path / "nats", tmp_path / "nats.log", new_session=False)
    try:
        yield cfg, natsserver.read_credentials(tmp_path / "nats")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _connect(url: str, errors: list[str] | None = None, **options):
    async def error_cb(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))
    return await nats_client.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
                                     error_cb=error_cb, **options)


def test_credentials_are_made_once_and_kept_owner_only(server, tmp_path: Path) -> None:
    _cfg, credentials = server
    path = natsserver.credentials_path(tmp_path / "nats")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "nats" / "nats-server.conf").stat().st_mode) == 0o600
    again = natsserver.ensure_credentials(tmp_path / "nats", ["a", "b", "c"])  # a new site gets a password
    assert (again.cloud, again.sites["a"], again.sites["b"]) == (credentials.cloud, credentials.sites["a"],
                                                                  credentials.sites["b"])
    assert again.sites["c"] not in (again.sites["a"], again.sites["b"])


async def test_an_anonymous_client_is_refused(server) -> None:
    cfg, _credentials = server
    with pytest.raises(Exception, match=r"(?i)authorization|no servers"):
        await _connect(cfg.url)


async def test_site_a_cannot_publish_as_site_b_nor_read_its_inbox(server) -> None:
    cfg, credentials = server
    cloud = await _connect(natsserver.with_user(cfg.url, natsserver.CLOUD_USER, credentials.cloud))
    try:
        await ensure_streams(cloud.jetstream())  # the cloud's user may set up JetStream
        user, password = credentials.site_user("a")
        errors: list[str] = []
        site_a = await _connect(cfg.url, errors, **connect_options(user, password, "", "", "", "", "", site="a"))
        try:
            await site_a.jetstream().publish(subjects.archive_subject("a"), b"own", timeout=5)  # its own: stored
            await site_a.publish(subjects.archive_subject("b"), b"forged")
            await site_a.subscribe("_INBOX.site.b.>")
            await site_a.flush(timeout=5)
            await asyncio.sleep(0.5)  # the server's -ERR lines arrive asynchronously
        finally:
            await site_a.close()
        assert any("permissions violation for publish" in e.lower() and "du.b." in e for e in errors), errors
        assert any("permissions violation for subscription" in e.lower() and "_inbox.site.b" in e.lower()
                   for e in errors), errors
        info = await cloud.jetstream().stream_info(subjects.STREAM_UP, subjects_filter=">")
        assert info.state.subjects == {subjects.archive_subject("a"): 1}  # B's subject got nothing
    finally:
        await cloud.close()


def _mqtt_connect(port: int, user: str | None, password: str | None) -> mqtt.ReasonCode:
    result: list[mqtt.ReasonCode] = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{user}")

    def on_connect(_c, _u, _f, rc, _p) -> None:
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    if user is not None:
        client.username_pw_set(user, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def test_mqtt_takes_only_the_lorawan_feeds_user(server) -> None:
    cfg, credentials = server
    assert _mqtt_connect(cfg.mqtt_port, None, None).is_failure
    assert _mqtt_connect(cfg.mqtt_port, "site-a", credentials.sites["a"]).is_failure  # NATS users stay NATS-only
    assert not _mqtt_connect(cfg.mqtt_port, natsserver.LORA_USER, credentials.lora).is_failure


async def test_the_lorawan_feeds_user_cannot_speak_nats(server) -> None:
    cfg, credentials = server
    with pytest.raises(Exception, match=r"(?i)authorization|no servers"):
        await _connect(natsserver.with_user(cfg.url, natsserver.LORA_USER, credentials.lora))
