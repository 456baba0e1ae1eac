"""One pass of the LoRa gap keeper over many meters (edge/lora_gaps.py ``check_pass``): it checks a
meter only when its check could do something. That is a newer device time, a gap whose backoff
has passed, or a new meter list. The gaps it opens and the downlinks it sends are what checking
every meter on every pass would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.buffer import Buffer
from edge.config import MeterConfig
from edge.drivers.lorawan_gaps import LoraGapKeeper
from edge.drivers.lorawan_mqtt import LoraUplinkHandler
from protocol import lorawan_down
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import edge_config

COMMISSIONED = datetime(2026, 1, 15, 0, 0)  # device local time (Europe/Moscow, UTC+3)


def _utc(local: datetime) -> int:
    """UTC epoch seconds of a Moscow local time (UTC+3 all year), as the buffer keeps times."""
    return int((local - timedelta(hours=3)).replace(tzinfo=UTC).timestamp())


def _device(local: datetime) -> int:
    """Device seconds of a Moscow local time: what an archive request carries."""
    return int(local.replace(tzinfo=UTC).timestamp())


def lora_meter(i: int) -> MeterConfig:
    return MeterConfig(serial=f"L{i}", model="KARAT-Compact-2-223", transport="lorawan",
                       commissioned=f"{COMMISSIONED.isoformat()}+03:00", dev_eui=f"{i:016x}")


class Keeper:
    def __init__(self, tmp_path: Path, count: int) -> None:
        self.meters = [lora_meter(i) for i in range(1, count + 1)]
        config = edge_config(tmp_path / "edge", self.meters, lora_application_id="app",
                             downlink_timeout_s=3600.0, gap_backoff_max_s=3600.0)
        self.buffer = Buffer(config.data_dir / "buffer.db")
        self.handler = LoraUplinkHandler(config, self.buffer)
        self.sent: list[tuple[str, lorawan_down.Downlink]] = []
        self.keeper = LoraGapKeeper(config, self.buffer, self.handler, lambda eui, f: self.sent.append((eui, f)),
                                    lambda: self.meters)

    def heard(self, meter: MeterConfig, device_time: datetime) -> None:
        """The meter's uplinks showed this device time (as an archive uplink would record it)."""
        self.buffer.write(lambda: self.handler._saw_time(meter.serial, _utc(device_time), 0.0))

    def open_gaps(self, meter: MeterConfig) -> int:
        return len(self.keeper.gaps.open(meter.serial, ArchiveKind.HOUR))


def test_a_pass_checks_only_meters_with_something_to_do(tmp_path: Path) -> None:
    k = Keeper(tmp_path, 3)
    a, b, _c = k.meters
    assert k.keeper.check_pass() == 0  # no meter heard yet: no device time to go by

    k.heard(a, COMMISSIONED + timedelta(hours=3))
    assert k.keeper.check_pass() == 1
    # device time 03:00: the hours starting 00:00, 01:00 and 02:00 have closed, none arrived
    assert k.open_gaps(a) == 3
    assert len(k.sent) == 1  # one archive request for the run of three hours
    assert k.keeper.check_pass() == 0  # same device time, requested gaps wait out their backoff

    k.heard(a, COMMISSIONED + timedelta(hours=4))
    assert k.keeper.check_pass() == 1
    assert k.open_gaps(a) == 4  # 03:00 has closed too
    assert len(k.sent) == 2  # the new hour is due at once: one more request

    k.heard(b, COMMISSIONED + timedelta(hours=1))
    assert k.keeper.check_pass() == 1  # b only
    assert k.open_gaps(b) == 1  # 00:00
    assert len(k.sent) == 3  # b's request for it

    # a's backoff on one gap runs out: a is checked and asked again, b is left alone
    k.buffer.write(lambda: k.buffer.db.execute("UPDATE gaps SET next_try_at = 0 WHERE meter = ? AND period = ?",
                                               [a.serial, _utc(COMMISSIONED)]))
    assert k.keeper.check_pass() == 1
    assert len(k.sent) == 3  # a's two requests wait unanswered at the network server: no third yet
    # the answer to a's second request (the hour 03:00) arrives: the third request goes out
    k.buffer.write(lambda: k.keeper.gaps.close_period(a.serial, ArchiveKind.HOUR, _utc(COMMISSIONED) + 3 * 3600))
    assert k.keeper.check_pass() == 1
    assert len(k.sent) == 4  # a's request for that hour
    assert k.keeper.check_pass() == 0

    k.meters = list(k.meters)  # a new meter list (a push): every heard meter is checked again
    assert k.keeper.check_pass() == 2
    assert len(k.sent) == 4  # nothing was due: the check finds nothing to request


def test_a_request_backs_off_its_periods_in_one_commit(tmp_path: Path) -> None:
    """The 48 periods of one archive request wait out their backoff together: one transaction,
    not one per period (each commit is an fsync on the gateway's card)."""
    k = Keeper(tmp_path, 1)
    (meter,) = k.meters
    k.heard(meter, COMMISSIONED + timedelta(hours=48))
    k.keeper.check(meter)  # registers the 48 hours (its own commits)
    k.buffer.db.execute("UPDATE gaps SET next_try_at = 0")  # all due again
    commits: list[str] = []
    k.buffer.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    k.keeper.check(meter)
    assert len(k.sent) == 2
    assert k.sent[1][1].last - k.sent[1][1].first == 47 * 3600
    assert len(commits) == 1
    assert {r[0] for r in k.buffer.db.execute("SELECT attempts FROM gaps WHERE kind = 'hour'")} == {2}


def test_at_most_two_requests_wait_for_one_device(tmp_path: Path) -> None:
    """A class A device takes one downlink after each uplink; requests queued beyond what it answers
    within the downlink timeout would be asked again while still queued, and answered twice. So
    the keeper keeps at most two unanswered requests per device: the next is there when the device
    takes one, and another goes out as soon as any period of a request has arrived."""
    k = Keeper(tmp_path, 1)
    (meter,) = k.meters
    k.heard(meter, COMMISSIONED + timedelta(days=10))  # 240 hours: five requests' worth
    for _ in range(5):
        k.keeper.check(meter)
    assert [(r.first, r.last) for _, r in k.sent] == [
        (_device(COMMISSIONED + timedelta(hours=192)), _device(COMMISSIONED + timedelta(hours=239))),
        (_device(COMMISSIONED + timedelta(hours=144)), _device(COMMISSIONED + timedelta(hours=191)))]
    # one record of the first request arrives: the device has it, its other records come with it
    k.buffer.write(lambda: k.keeper.gaps.close_period(meter.serial, ArchiveKind.HOUR,
                                                      _utc(COMMISSIONED + timedelta(hours=239))))
    k.keeper.check(meter)
    assert len(k.sent) == 3
    assert k.sent[2][1].last == _device(COMMISSIONED + timedelta(hours=143))
    k.keeper.check(meter)
    assert len(k.sent) == 3
    # unanswered for the downlink timeout, a request no longer holds its place
    k.keeper._queued[meter.serial] = [(t - 3601.0, *rest) for t, *rest in k.keeper._queued[meter.serial]]
    for _ in range(3):
        k.keeper.check(meter)
    assert len(k.sent) == 5  # two more, one a check, and again two waiting
