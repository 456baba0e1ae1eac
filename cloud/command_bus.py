"""The NATS side of the command service: publishes commands on DU_DOWN and keeps retrying.

``CommandBus.run`` connects (waiting while NATS is unreachable), makes sure the streams exist,
attaches a publisher to cloud.services.commands.CommandService (JetStream publish with
``Nats-Msg-Id`` = command id, so a repeat is dropped by the stream's duplicate window) and sends
the commands left "created" every ``interval_s``. ``sweep_timeouts`` marks expired commands
"timed_out", with or without NATS. Both run as background tasks of `domuchet cloud`.
Tests: tests/integration/test_cloud_commands.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
import nats.errors
from nats.aio.client import Client as NATS

from cloud.health import Link
from cloud.services.commands import CommandService, PublishError
from cloud.streams import connect, ensure_streams
from protocol import subjects
from protocol.nats_access import redact_url

log = logging.getLogger(__name__)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class CommandBus:
    def __init__(self, nats_url: str, commands: CommandService, interval_s: float = 2.0,
                 publish_timeout_s: float = 5.0, replicas: int = 1) -> None:
        self.nats_url = nats_url
        self.replicas = replicas
        self.commands = commands
        self.interval_s = interval_s
        self.publish_timeout_s = publish_timeout_s
        self._nc: NATS | None = None
        self.link = Link("command-bus")  # its NATS connection, for /api/health (cloud/health.py)

    async def _publish(self, subject: str, data: bytes, msg_id: str) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise PublishError("not connected to NATS")
        try:
            await nc.jetstream().publish(subject, data, timeout=self.publish_timeout_s, stream=subjects.STREAM_DOWN,
                                         headers={"Nats-Msg-Id": msg_id})
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set (also waiting while NATS is still unreachable)."""
        nc = await connect(self.nats_url, "domuchet-commands", stop, self.link)
        if nc is None:
            return
        self._nc = nc
        try:
            await ensure_streams(self._nc.jetstream(), self.replicas)
            self.commands.attach(self._publish)
            log.info("event=command_bus_started url=%s", redact_url(self.nats_url))
            while not stop.is_set():
                await self.commands.send_pending()
                await _pause(stop, self.interval_s)
        finally:
            self.commands.attach(None)
            nc, self._nc = self._nc, None
            await nc.close()


async def sweep_timeouts(commands: CommandService, stop: asyncio.Event, interval_s: float = 30.0) -> None:
    """Mark commands with no final result past their expiry "timed_out", every ``interval_s``."""
    while not stop.is_set():
        await asyncio.to_thread(commands.sweep)
        await _pause(stop, interval_s)
