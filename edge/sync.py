"""Store-and-forward sync: publish buffered batches to JetStream, apply the cloud's watermark.

A batch is published on the subject of its content (``protocol.wire.batch_subject``) with
``Nats-Msg-Id = <site>:<epoch>:<seq>:<digest>`` (``protocol.wire.encode``). Up to ``window``
batches are in flight at once (JetStream asynchronous publishing); each is marked published only
on its own acknowledgement, with the digest of what was sent. When an acknowledgement fails or
does not come within ``ack_timeout_s``, every batch still in flight stays pending and is sent
again, same seq, after a backoff. A batch counts as safe only when the cloud's *stored*
watermark (DU_STORED bucket, key = site; protocol/watermark.py) lists that very batch - this
buffer's epoch, its seq and digest; a batch the cloud holds another one for is renumbered and
sent again (``Buffer.apply_cloud``). The watermark is read once on connecting, before any batch
is built, then every 0.1 s while batches await confirmation (a direct get of one key: a
confirmation is seen within a tenth of a second, and the edge builds on), every 5 s otherwise. A
published batch not confirmed within ``confirm_timeout_s`` is sent again with the same id
(harmless: deduplicated downstream). Backpressure: while more than ``max_unconfirmed_batches``
batches are published but not confirmed stored (the cloud is slow), no new batch is built; they
wait in the buffer.
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
from nats.js.kv import KeyValue

from edge.buffer import Buffer
from edge.config import EdgeConfig, nats_options
from protocol import subjects, watermark
from protocol.nats_access import redact_url

log = logging.getLogger(__name__)
CONFIRM_POLL_S = 0.1  # how often the watermark is read while batches await the cloud's confirmation
_PUBLISH_ERRORS = (NatsTimeout, NoStreamResponseError, JetStreamError, ConnectionClosedError,
                   OutboundBufferLimitError, asyncio.TimeoutError)


class _NoAck(Exception):
    """A batch in flight got no acknowledgement in time."""


class Sync:
    def __init__(self, config: EdgeConfig, buffer: Buffer, confirm_timeout_s: float = 60.0, window: int = 32,
                 ack_timeout_s: float = 5.0) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.config = config
        self.buffer = buffer
        self.confirm_timeout_s = confirm_timeout_s
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.published = 0
        self.watermark = 0  # the cloud's contiguous stored seq of the site
        self.renumbered = 0  # batches moved to new seqs because the cloud holds others under theirs
        self.in_flight = 0  # batches sent and not yet acknowledged
        self.backpressure = False  # too many batches published and not confirmed stored
        self.last_sync: float | None = None  # last publish acknowledged by JetStream
        self.last_stored_at: float | None = None  # last time the cloud's watermark moved
        self.disconnected_at: float | None = time.time()  # down until the first connect
        self._nc: nats.NATS | None = None
        self._error_logged_at = -1e9
        self._kv: KeyValue | None = None  # the DU_STORED bucket on the current connection
        self._acked = asyncio.Event()  # set on every acknowledgement: the watermark is worth reading
        self._applied: tuple[bytes, int] | None = None  # (watermark value, published count) last applied

    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up now (pings every 2 s: a silent cut shows within seconds)."""
        return self._nc is not None and self._nc.is_connected

    async def run(self, stop: asyncio.Event) -> None:
        nc = None
        while nc is None and not stop.is_set():
            # with max_reconnect_attempts=-1 nats.connect retries a dead uplink forever: race it against stop
            connect = asyncio.ensure_future(nats.connect(**nats_options(
                self.config, "sync", disconnected_cb=self._down, reconnected_cb=self._up, error_cb=self._error)))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not connect.done():
                await cancel_connect(connect)
                return
            try:
                nc = connect.result()
            except (NoServersError, OSError, NatsTimeout) as exc:
                log.warning("event=nats_unreachable url=%s reason=%r", redact_url(self.config.nats_url), str(exc))
                await _sleep(stop, 1.0)
        if nc is None:
            return
        self._nc = nc
        self.disconnected_at = None
        js = nc.jetstream()
        try:  # before any batch is built: a buffer younger than the site's history numbers above it
            await asyncio.wait_for(self._read_watermark(js), self.ack_timeout_s)
        except (BucketNotFoundError, KeyNotFoundError):
            pass  # the cloud has stored nothing of this site yet
        except (*_PUBLISH_ERRORS, ValueError) as exc:  # the watcher tries again; renumbering covers the rest
            log.warning("event=watermark_unread_at_connect reason=%r", str(exc) or type(exc).__name__)
        watcher = asyncio.create_task(self._watch_watermark(js, stop))
        try:
            await self._publish(js, stop)
        finally:
            watcher.cancel()
            self._nc = None
            self._kv = None
            self.in_flight = 0
            await nc.close()

    async def _publish(self, js, stop: asyncio.Event) -> None:
        """Keep up to ``window`` batches in flight; mark each published on its own acknowledgement."""
        cfg = self.config
        flight: dict[int, tuple[asyncio.Future, float, str]] = {}  # seq -> (ack future, sent at, digest)
        backoff = 0.2
        requeue_at = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= requeue_at:
                    self.buffer.requeue_unconfirmed(self.confirm_timeout_s)
                    requeue_at = now + 1.0
                sent = 0
                try:
                    if len(flight) <= self.window // 2:  # refill in bulk: fewer, larger transactions
                        self.backpressure = self.buffer.unconfirmed_batches() >= cfg.max_unconfirmed_batches
                        batches = self.buffer.next_outgoing(self.window - len(flight), cfg.batch_max_records,
                                                            cfg.site, skip=flight.keys(), new=not self.backpressure)
                        for batch in batches:
                            out = batch.encoded
                            future = await js.publish_async(out.subject, out.data, headers={"Nats-Msg-Id": out.msg_id})
                            flight[batch.seq] = (future, time.monotonic(), out.digest)
                            sent += 1
                    self.in_flight = len(flight)
                    if not flight:
                        await _sleep(stop, 0.2)
                        continue
                    oldest = min(at for _, at, _ in flight.values())
                    wait_s = max(0.0, oldest + self.ack_timeout_s - time.monotonic())
                    if len(flight) <= self.window // 2 and sent:
                        wait_s = 0.0  # room left and more may be waiting: build on
                    await asyncio.wait([f for f, _, _ in flight.values()], timeout=min(wait_s, 0.2),
                                       return_when=asyncio.FIRST_COMPLETED)
                    self._collect(flight)
                    backoff = 0.2
                except (*_PUBLISH_ERRORS, _NoAck) as exc:
                    seqs = sorted(flight)
                    for future, _, _ in flight.values():
                        future.cancel()
                    flight.clear()
                    self.in_flight = 0
                    log.warning("event=publish_failed seqs=%s reason=%r retry_s=%.1f", _span(seqs),
                                str(exc) or type(exc).__name__, backoff)
                    await _sleep(stop, backoff)  # the unacknowledged batches stay pending: same seqs again
                    backoff = min(backoff * 2, 10.0)
        finally:
            for future, _, _ in flight.values():
                future.cancel()

    def _collect(self, flight: dict[int, tuple[asyncio.Future, float, str]]) -> None:
        """Mark the acknowledged batches published with their digests (one transaction); raise on a
        failed or late one."""
        acked: dict[int, str] = {}
        failure: BaseException | None = None
        deadline = time.monotonic() - self.ack_timeout_s
        for seq, (future, at, digest) in list(flight.items()):
            if future.done():
                del flight[seq]
                exc = None if future.cancelled() else future.exception()
                if exc is None and not future.cancelled():
                    acked[seq] = digest
                elif failure is None:  # whatever the broker said, the batch stays pending
                    failure = _NoAck(f"batch {seq}: {exc!r}" if exc else f"batch {seq}: acknowledgement cancelled")
            elif at < deadline and failure is None:
                failure = _NoAck(f"batch {seq}: no acknowledgement within {self.ack_timeout_s:.0f} s")
        if acked:
            self.buffer.mark_published_many(acked)
            self.published += len(acked)
            self.last_sync = time.time()
            self._acked.set()
        if failure is not None:
            raise failure

    async def _watch_watermark(self, js, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._read_watermark(js)
            except (BucketNotFoundError, KeyNotFoundError):
                pass  # the cloud has stored nothing of ours yet
            except ValueError as exc:  # a value this edge cannot read: say so, never act on it
                log.error("event=watermark_unreadable reason=%r", str(exc))
            except _PUBLISH_ERRORS as exc:
                log.warning("event=watermark_unavailable reason=%r", str(exc))
            self._acked.clear()
            if self.in_flight or self.buffer.unconfirmed_batches():
                await _sleep(stop, CONFIRM_POLL_S)
                continue
            # nothing awaits confirmation: read again in 5 s, or as soon as something is acknowledged
            wakes = {asyncio.ensure_future(self._acked.wait()), asyncio.ensure_future(stop.wait())}
            await asyncio.wait(wakes, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
            for wake in wakes:
                wake.cancel()

    async def _read_watermark(self, js) -> None:
        """Read the site's stored watermark and apply it, when it or what this edge sent changed."""
        if self._kv is None:
            self._kv = await js.key_value(subjects.STORED_BUCKET)
        entry = await self._kv.get(self.config.site)
        value = entry.value or b"0"
        if self._applied == (value, self.published):
            return
        state = watermark.parse(value)
        confirmed, moved = self.buffer.apply_cloud(state)
        self._applied = (value, self.published)
        if moved:
            self.renumbered += moved
            log.warning("event=batches_renumbered count=%d cloud_top_seq=%d reason=the cloud holds other batches "
                        "under their seqs", moved, state.top)
        if confirmed or state.seq > self.watermark:
            self.last_stored_at = time.time()
        self.watermark = state.seq

    async def _error(self, exc: Exception) -> None:
        """nats.py reports each failed (re)connect attempt here: log it, at most every 10 s."""
        now = time.monotonic()
        if now - self._error_logged_at >= 10.0:
            self._error_logged_at = now
            log.warning("event=nats_unreachable url=%s reason=%r", redact_url(self.config.nats_url),
                        str(exc) or type(exc).__name__)

    async def _down(self) -> None:
        self.disconnected_at = time.time()
        log.warning("event=nats_disconnected")

    async def _up(self) -> None:
        self.disconnected_at = None
        log.info("event=nats_reconnected")


async def cancel_connect(task: asyncio.Future) -> None:
    """Cancel a connect attempt and wait for it to end. On Python 3.11 ``asyncio.wait_for`` can
    swallow a cancellation that lands while a refused connection completes, and nats.py then
    simply tries the next server; so cancel again until the attempt is really over."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is None:
        await task.result().close()  # it connected after all: close it, nobody will use it


def _span(seqs: list[int]) -> str:
    return "-" if not seqs else str(seqs[0]) if len(seqs) == 1 else f"{seqs[0]}..{seqs[-1]}"


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
