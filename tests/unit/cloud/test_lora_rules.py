"""The rules of LoRa monitoring (manual 4.2.4, cloud/services/lora_rules.py), each with numbers
worked out by hand in the comments: PER = lost / expected, expected = last − first + 1, lost =
expected − distinct numbers received; not computed across a restart of the numbering; the
windows (10 days / 2,000 packets for PER, 5 days / 2,000 for the log); copies of one packet and
the gateway shown; the function code; the multi-select rule "all = none"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.services import lora_rules as rules
from protocol import lorawan, lorawan_down, lorawan_up
from protocol.vocabulary import ArchiveKind, MeterRole, Resource

NOW = datetime(2026, 1, 14, 12, tzinfo=UTC)


def up(f_cnt: int, at: datetime, *, snr: float | None = 5.0, rssi: int | None = -90, gateway: str = "gw-a",
       payload: str = "11aa") -> rules.Row:
    return rules.Row(at, "up", f_cnt, 2, rssi, snr, gateway, 868_900_000, payload)


def hourly(numbers: list[int], last: datetime = NOW) -> list[rules.Packet]:
    """Packets with these numbers, one an hour, the last at ``last``."""
    start = last - timedelta(hours=len(numbers) - 1)
    return rules.packets(up(n, start + timedelta(hours=i)) for i, n in enumerate(numbers))


# --- PER -----------------------------------------------------------------------------------------

def test_no_loss_is_zero() -> None:
    # 100..109: expected 109 - 100 + 1 = 10, received 10, lost 0 -> 0 %
    figure = rules.per(hourly(list(range(100, 110))))
    assert (figure.per_pct, figure.expected, figure.received, figure.lost, figure.reset) == (0.0, 10, 10, 0, False)


def test_losses() -> None:
    # 10, 11, 13, 14: expected 14 - 10 + 1 = 5, received 4, lost 1 -> 1/5 = 20 %
    assert rules.per(hourly([10, 11, 13, 14])).per_pct == 20.0
    # 0, 5, 6, 9: expected 10, received 4, lost 6 -> 60 %
    figure = rules.per(hourly([0, 5, 6, 9]))
    assert (figure.per_pct, figure.expected, figure.lost) == (60.0, 10, 6)
    # 1, 2, 4: expected 4, received 3, lost 1 -> 25 %; a third: 1, 4: expected 4, lost 2 -> 50 %
    assert rules.per(hourly([1, 2, 4])).per_pct == 25.0
    assert rules.per(hourly([1, 4])).per_pct == 50.0
    # 1, 3, 7: expected 7, received 3, lost 4 -> 4/7 = 57.142857 % -> 57.14
    assert rules.per(hourly([1, 3, 7])).per_pct == 57.14


def test_a_restart_of_the_numbering_is_not_computed() -> None:
    # 500, 501, 0, 1: 0 < 501 -> the device re-registered inside the window: no PER
    figure = rules.per(hourly([500, 501, 0, 1]))
    assert (figure.per_pct, figure.expected, figure.lost, figure.reset) == (None, None, None, True)
    assert figure.received == 4


def test_counter_width() -> None:
    # the network server reports the 32-bit counter: 65534, 65535, 65536, 65538 is continuous
    # -> expected 65538 - 65534 + 1 = 5, received 4, lost 1 -> 20 %
    assert rules.per(hourly([65534, 65535, 65536, 65538])).per_pct == 20.0
    # a 32-bit rollover 4294967295 -> 0 restarts the numbering (LoRaWAN re-joins first): no PER
    figure = rules.per(hourly([4294967294, 4294967295, 0, 1]))
    assert figure.reset
    assert figure.per_pct is None


def test_nothing_to_compute_over() -> None:
    figure = rules.per([])
    assert (figure.per_pct, figure.received, figure.reset) == (None, 0, False)
    # one packet: expected 1, received 1 -> 0 %
    assert rules.per(hourly([7])).per_pct == 0.0


def test_per_window_ten_days() -> None:
    # numbers 0..287 one an hour, the newest at NOW, with 10..19 lost (278 packets): number k >= 20
    # is sent 287 - k hours before NOW, number 9 was sent 268 h = 11.2 days before: the loss is older
    numbers = [n for n in range(288) if not 10 <= n <= 19]
    window = rules.window(hourly(numbers), NOW, rules.PER_DAYS)
    # the window is (NOW - 240 h, NOW]: packets sent 0..239 h ago, numbers 287 - 239 = 48 .. 287
    assert (len(window), window[0].f_cnt, window[-1].f_cnt) == (240, 48, 287)
    assert rules.per(window).per_pct == 0.0  # the loss lies outside
    # a reset older than 10 days does not stop PER either: 0..29, then 0..249 after it
    packets = hourly(list(range(30)) + list(range(250)))
    assert rules.per(rules.window(packets, NOW, rules.PER_DAYS)).per_pct == 0.0
    # ... but one inside the window does: 0..99, then 0..99 (200 hours, all within 10 days)
    assert rules.per(rules.window(hourly(list(range(100)) * 2), NOW, rules.PER_DAYS)).reset


def test_per_window_two_thousand_packets() -> None:
    # 2,500 packets a minute apart (all within 10 days); numbers 0..2499 with 100..149 lost
    numbers = [n for n in range(2500) if not 100 <= n <= 149]  # 2,450 packets
    items = rules.packets(up(n, NOW - timedelta(minutes=len(numbers) - 1 - i)) for i, n in enumerate(numbers))
    window = rules.window(items, NOW, rules.PER_DAYS)
    # the newest 2,000 packets: numbers 500..2499 (2,450 - 2,000 = 450 older ones, 0..99 and 150..499)
    assert (len(window), window[0].f_cnt) == (2000, 500)
    assert rules.per(window).per_pct == 0.0
    # 2,000 packets, numbers 0..2019 with 1000..1019 lost: expected 2020, lost 20 -> 0.990099 % -> 0.99
    numbers = [n for n in range(2020) if not 1000 <= n <= 1019]
    items = rules.packets(up(n, NOW - timedelta(minutes=len(numbers) - 1 - i)) for i, n in enumerate(numbers))
    assert rules.per(rules.window(items, NOW, rules.PER_DAYS)).per_pct == 0.99


def test_log_window_five_days() -> None:
    # 7 days of hourly packets (168, numbers 0..167, newest at NOW): the log keeps (NOW - 120 h, NOW]:
    # packets sent 0..119 h ago, numbers 48..167
    window = rules.window(hourly(list(range(168))), NOW, rules.LOG_DAYS)
    assert (len(window), window[0].f_cnt, window[-1].f_cnt) == (120, 48, 167)
    # exactly 5 days old is outside (the window is open at its start), a packet after NOW too
    items = rules.packets([up(1, NOW - timedelta(days=5)), up(2, NOW - timedelta(days=5) + timedelta(seconds=1)),
                           up(3, NOW), up(4, NOW + timedelta(seconds=1))])
    assert [p.f_cnt for p in rules.window(items, NOW, rules.LOG_DAYS)] == [2, 3]
    # 3,000 packets within 5 days: the newest 2,000
    items = rules.packets(up(n, NOW - timedelta(seconds=60 * (2999 - n))) for n in range(3000))
    window = rules.window(items, NOW, rules.LOG_DAYS)
    assert (len(window), window[0].f_cnt, window[-1].f_cnt) == (2000, 1000, 2999)


# --- copies of one packet, the gateway shown ------------------------------------------------------

def test_copies_of_one_packet_show_the_best_gateway() -> None:
    t0 = NOW - timedelta(hours=1)
    rows = [up(7, t0, snr=-3.0, rssi=-110, gateway="gw-far"),
            up(7, t0 + timedelta(seconds=1), snr=6.5, rssi=-95, gateway="gw-near"),
            up(7, t0 + timedelta(seconds=2), snr=6.5, rssi=-99, gateway="gw-equal-snr-worse-rssi"),
            up(8, NOW, snr=None, rssi=None, gateway="gw-x")]
    first, second = rules.packets(rows)
    # packet 7: best SNR 6.5 (two), of those the best RSSI -95 -> gw-near; time of the first copy
    assert (first.f_cnt, first.gateway, first.snr, first.rssi, first.at, first.copies) == (
        7, "gw-near", 6.5, -95, t0, 3)
    assert (second.f_cnt, second.gateway, second.copies) == (8, "gw-x", 1)
    # three rows, two packets: expected 8 - 7 + 1 = 2, received 2 -> 0 %
    assert rules.per([first, second]).per_pct == 0.0


def test_the_same_number_after_others_is_a_new_packet() -> None:
    # 5, 6, 5: not copies (6 lies between) -> a restart of the numbering
    packets = rules.packets([up(5, NOW - timedelta(hours=2)), up(6, NOW - timedelta(hours=1)), up(5, NOW)])
    assert [p.f_cnt for p in packets] == [5, 6, 5]
    assert rules.per(packets).reset


def test_downlinks_are_each_their_own_packet() -> None:
    rows = [rules.Row(NOW, "down", 0, 3, None, None, "", 0, "31aa"),
            rules.Row(NOW, "down", 0, 3, None, None, "", 0, "32bb")]
    packets = rules.packets(rows)
    assert [(p.f_cnt, p.frequency, p.function_code) for p in packets] == [(None, None, 0x31), (None, None, 0x32)]


# --- function code, averages, multi-select ----------------------------------------------------------

def test_function_code_is_the_template_byte() -> None:
    archive = lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, 0x67808D30, 6392013, 80733, 60489)).hex()
    assert rules.function_code(archive) == 0x11 == lorawan.TEMPLATE_ARCHIVE[ArchiveKind.HOUR]
    assert rules.function_code("0501ff") == lorawan_up.TEMPLATE_EVENT == 5
    assert rules.function_code("31") == lorawan_down.TEMPLATE_REQUEST_ARCHIVE
    assert rules.function_code("") is None
    assert rules.function_code("zz") is None


def test_means() -> None:
    # SNR 6.5, -3, None -> (6.5 - 3) / 2 = 1.75; RSSI -95, -110, -100 -> -305 / 3 = -101.666.. -> -101.67
    assert rules.mean([6.5, -3.0, None]) == 1.75
    assert rules.mean([-95, -110, -100]) == -101.67
    assert rules.mean([None]) is None


@pytest.mark.parametrize(("selected", "expected"), [
    ((), None),  # nothing selected: no filter
    ((Resource.HEAT, Resource.COLD_WATER), None),  # everything offered selected: the same
    ((Resource.COLD_WATER, Resource.HEAT, Resource.GAS), None),  # more than offered: still everything
    ((Resource.HEAT,), frozenset({Resource.HEAT})),
])
def test_all_selected_equals_none_selected(selected, expected) -> None:
    assert rules.chosen(selected, (Resource.HEAT, Resource.COLD_WATER)) == expected


def test_all_roles_equal_none() -> None:
    both = (MeterRole.COMMON, MeterRole.INDIVIDUAL)
    assert rules.chosen(both, both) is None
    assert rules.chosen([MeterRole.INDIVIDUAL], both) == frozenset({MeterRole.INDIVIDUAL})


def test_per_of_rows_is_per_of_the_packets() -> None:
    # rows 10, 11, 11 (a copy), 13, 14: packets 10, 11, 13, 14 -> expected 5, received 4, lost 1 -> 20 %;
    # the first packet's time is the first row's
    times = [NOW + timedelta(minutes=m) for m in range(5)]
    figure = rules.per_of_rows([10, 11, 11, 13, 14], times)
    assert (figure.per_pct, figure.expected, figure.received, figure.first) == (20.0, 5, 4, times[0])
    # the newest 3 packets only: 11, 13, 14 -> expected 4, received 3, lost 1 -> 25 %; first = the row of 11
    figure = rules.per_of_rows([10, 11, 11, 13, 14], times, limit=3)
    assert (figure.per_pct, figure.first) == (25.0, times[1])
    # 7, 3: a restart; nothing: nothing to compute
    assert rules.per_of_rows([7, 3], times[:2]).reset
    assert rules.per_of_rows([], []).per_pct is None
