"""Store-and-forward sync: publish buffered batches to JetStream, apply the cloud's watermark.

A batch is published with ``Nats-Msg-Id = <site>:<seq>`` and marked published only on the
JetStream acknowledgement. It counts as safe only when the cloud's *stored* watermark
(DU_STORED bucket, key = site) reaches it; a published batch not confirmed within
``confirm_timeout_s`` is sent again with the same id (harmless: deduplicated downstream).
"""

from __future__ import annotations

import asyncio
import logging
import time

import nats
from nats.errors import ConnectionClosedError, NoServersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoStreamResponseError
from nats.js.errors import Error as JetStreamError

from edge.buffer import Buffer
from edge.config import EdgeConfig
from protocol import subjects
from protocol.wire import encode_batch

log = logging.getLogger(__name__)
_PUBLISH_ERRORS = (NatsTimeout, NoStreamResponseError, JetStreamError, ConnectionClosedError,
                   OutboundBufferLimitError, asyncio.TimeoutError)


class Sync:
    def __init__(self, config: EdgeConfig, buffer: Buffer, confirm_timeout_s: float = 60.0) -> None:
        self.config = config
        self.buffer = buffer
        self.confirm_timeout_s = confirm_timeout_s
        self.subject = subjects.archive_subject(config.site)
        self.published = 0
        self.watermark = 0
        self.last_sync: float | None = None  # last publish acknowledged by JetStream
        self.last_stored_at: float | None = None  # last time the cloud's watermark moved
        self.disconnected_at: float | None = time.time()  # down until the first connect
        self._nc: nats.NATS | None = None
        self._error_logged_at = -1e9

    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up now (pings every 2 s: a silent cut shows within seconds)."""
        return self._nc is not None and self._nc.is_connected

    async def run(self, stop: asyncio.Event) -> None:
        nc = None
        while nc is None and not stop.is_set():
            # with max_reconnect_attempts=-1 nats.connect retries a dead uplink forever: race it against stop
            connect = asyncio.ensure_future(nats.connect(
                servers=[self.config.nats_url], max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                name=f"domuchet-edge-{self.config.site}", ping_interval=2, max_outstanding_pings=2,
                connect_timeout=2, disconnected_cb=self._down, reconnected_cb=self._up, error_cb=self._error))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not connect.done():
                connect.cancel()
                await asyncio.gather(connect, return_exceptions=True)
                return
            try:
                nc = connect.result()
            except (NoServersError, OSError, NatsTimeout) as exc:
                log.warning("event=nats_unreachable url=%s reason=%r", self.config.nats_url, str(exc))
                await _sleep(stop, 1.0)
        if nc is None:
            return
        self._nc = nc
        self.disconnected_at = None
        js = nc.jetstream()
        watcher = asyncio.create_task(self._watch_watermark(js, stop))
        backoff = 0.2
        try:
            while not stop.is_set():
                self.buffer.requeue_unconfirmed(self.confirm_timeout_s)
                batch = self.buffer.next_batch(self.config.batch_max_records, self.config.site)
                if batch is None:
                    await _sleep(stop, 0.2)
                    continue
                try:
                    await js.publish(self.subject, encode_batch(batch), timeout=5.0,
                                     headers={"Nats-Msg-Id": batch.msg_id})
                except _PUBLISH_ERRORS as exc:
                    log.warning("event=publish_failed seq=%d reason=%r retry_s=%.1f", batch.seq, str(exc), backoff)
                    await _sleep(stop, backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.2
                self.buffer.mark_published(batch.seq)
                self.published += 1
                self.last_sync = time.time()
        finally:
            watcher.cancel()
            self._nc = None
            await nc.close()

    async def _watch_watermark(self, js, stop: asyncio.Event) -> None:
        kv = None
        while not stop.is_set():
            try:
                kv = kv or await js.key_value(subjects.STORED_BUCKET)
                entry = await kv.get(self.config.site)
                mark = int(entry.value or b"0")
                if mark > self.watermark:
                    moved = self.buffer.adopt_watermark(mark)
                    if moved:
                        log.warning("event=batches_renumbered count=%d watermark=%d reason=buffer_younger_than_cloud",
                                    moved, mark)
                    self.watermark = mark
                    self.buffer.mark_stored_upto(mark)
                    self.last_stored_at = time.time()
            except (BucketNotFoundError, KeyNotFoundError):
                pass  # the cloud has stored nothing of ours yet
            except _PUBLISH_ERRORS as exc:
                log.warning("event=watermark_unavailable reason=%r", str(exc))
            await _sleep(stop, 0.5)

    async def _error(self, exc: Exception) -> None:
        """nats.py reports each failed (re)connect attempt here: log it, at most every 10 s."""
        now = time.monotonic()
        if now - self._error_logged_at >= 10.0:
            self._error_logged_at = now
            log.warning("event=nats_unreachable url=%s reason=%r", self.config.nats_url, str(exc) or type(exc).__name__)

    async def _down(self) -> None:
        self.disconnected_at = time.time()
        log.warning("event=nats_disconnected")

    async def _up(self) -> None:
        self.disconnected_at = None
        log.info("event=nats_reconnected")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
