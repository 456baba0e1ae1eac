"""The pure rules of the export to billing centres (manual 4.4.2): the matching of accounts and
devices (cloud/billing/reconcile.py), the exchange's messages and keys (protocol.py), the run's status,
the simulator's judgement of a reading and the demo book's deliberate mismatches."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.billing import reconcile as rc
from cloud.billing.runs import status_of
from protocol import billing as p
from simulators.billing_centre import BillingCentre, demo_book

P1, P2, P3, P4 = (rc.Premise(1, "ул. А, 1", "1", "A-1"), rc.Premise(2, "ул. А, 1", "2", "A-2"),
                  rc.Premise(3, "ул. А, 1", "3", ""), rc.Premise(4, "ул. А, 1", "4", "A-4"))


def _answers() -> dict[str, p.AccountAnswer]:
    return {"A-1": p.AccountAnswer("A-1", True, (p.Device("D1", "S1", "heat"), p.Device("D2", "S2", "cold_water"),
                                                 p.Device("D5", "S5", "hot_water"))),
            "A-2": p.AccountAnswer("A-2", False), "A-4": p.AccountAnswer("A-4", True, ())}


def test_accounts_and_devices_are_matched_by_account_serial_and_resource() -> None:
    lines = [rc.Line(11, 1, "S1", "heat"),          # matched, never linked: first-time
             rc.Line(12, 1, "S2", "hot_water"),     # S2 is there under cold water: another resource
             rc.Line(13, 1, "S3", "heat"),          # no S3 under A-1: not found
             rc.Line(15, 1, "S5", "hot_water"),     # matched, linked to D5 before: neither
             rc.Line(14, 1, "S1", "cold_water"),    # S1 under heat only: another resource
             rc.Line(21, 2, "S1", "heat"),          # A-2 unknown: not counted among matched premises' meters
             rc.Line(41, 4, "S4", "heat")]          # A-4 known without devices: not found
    out = rc.reconcile([P1, P2, P3, P4], lines, _answers(), {(15, "hot_water"): "D5", (99, "heat"): "X"})
    # 4 premises, 3 with an account; A-2 unknown, кв.3 missing
    assert (out.premises, out.with_account) == (4, 3)
    assert [(f.premise.number, f.code) for f in out.account_failures] == [("2", rc.UNKNOWN), ("3", rc.MISSING)]
    # meters of matched premises: 5 lines of кв.1 and 1 of кв.4 = 6
    assert out.lines_of_matched == 6
    assert [(d.line.meter_id, d.code, d.centre_resource) for d in out.device_failures] == [
        (12, rc.OTHER_RESOURCE, "cold_water"), (13, rc.NOT_FOUND, ""), (14, rc.OTHER_RESOURCE, "heat"),
        (41, rc.NOT_FOUND, "")]
    assert [(m.line.meter_id, m.device_id, m.first_time, m.relinked) for m in out.matches] == [
        (11, "D1", True, False), (15, "D5", False, False)]
    assert (out.first_time, out.relinked) == (1, 0)


def test_a_changed_device_id_is_a_relink() -> None:
    out = rc.reconcile([P1], [rc.Line(11, 1, "S1", "heat")], _answers(), {(11, "heat"): "D1-old"})
    assert [(m.first_time, m.relinked) for m in out.matches] == [(False, True)]


def test_accounts_asked_are_distinct_and_set() -> None:
    assert rc.accounts_to_ask([P4, P1, P3, rc.Premise(5, "", "5", "A-1")]) == ["A-1", "A-4"]


def test_messages_and_keys() -> None:
    # one key per centre, meter, resource and period: a resend of the period carries the same key
    assert p.idempotency_key(3, 17, "heat", "2026-01") == "c3-m17-heat-2026-01"
    # an account the centre left out of its answer is unknown
    answers = p.parse_match({"accounts": [{"account": "A", "found": True,
                                           "devices": [{"device_id": 7, "serial": "S", "resource": "heat"}]}]},
                            ["A", "B"])
    assert answers == {"A": p.AccountAnswer("A", True, (p.Device("7", "S", "heat"),)), "B": p.AccountAnswer("B", False)}
    with pytest.raises(p.ProtocolError, match="accounts/match"):
        p.parse_match({"accounts": "x"}, [])
    sent = [p.Reading("k1", "A", "7", "S", "heat", "2026-01", "2026-01-13", {"T1": 1.5})]
    with pytest.raises(p.ProtocolError, match="no answer for 1 readings"):
        p.parse_results({"results": []}, sent)
    with pytest.raises(p.ProtocolError, match="status"):
        p.parse_results({"results": [{"idempotency_key": "k1", "status": "maybe"}]}, sent)
    assert p.parse_reading(p.reading_json(sent[0])) == sent[0]
    with pytest.raises(p.ProtocolError, match="values"):
        p.parse_reading({**p.reading_json(sent[0]), "values": {"T1": "1"}})


def test_status_of_a_finished_run() -> None:
    clean = {"account_failures": 0, "device_failures": 0, "errors_by_resource": {}, "rejected_by_resource": {}}
    assert status_of(clean) == "success"
    assert status_of({**clean, "rejected_by_resource": {"heat": 1}}) == "errors"
    assert status_of({**clean, "account_failures": 1}) == "errors"


def test_the_simulator_judges_readings() -> None:
    centre = BillingCentre({"accounts": {"A": [{"device_id": "D", "serial": "S", "resource": "heat"}]},
                            "last": {"D": {"T1": 10.0}}}, lambda: date(2026, 1, 14))

    def reading(key: str, day: str, value: float, device: str = "D") -> p.Reading:
        return p.Reading(key, "A", device, "S", "heat", "2026-01", day, {"T1": value})
    # 2026-01-04 is 10 days before 2026-01-14: still accepted; 2026-01-03 is 11 days before: rejected
    assert centre.take("p", reading("a", "2026-01-04", 10.0)).status == p.ACCEPTED
    assert centre.take("p", reading("b", "2026-01-03", 11.0)).code == p.NO_RECENT
    # lower than the last accepted (10.0 → 12.0 accepted, then 11.0 lower)
    assert centre.take("p", reading("c", "2026-01-13", 12.0)).status == p.ACCEPTED
    lower = centre.take("p", reading("d", "2026-01-13", 11.0))
    assert (lower.code, lower.message) == (p.LOWER, "показание меньше переданного ранее (12)")
    # a resend of an accepted key is accepted again and not recorded twice, whatever it carries now
    assert centre.take("p", reading("a", "2026-01-13", 1.0)).status == p.ACCEPTED
    assert list(centre.accepted) == ["a", "c"]
    assert centre.take("p", reading("e", "2026-01-13", 20.0, device="X")).code == "unknown_device"


def test_the_demo_book_has_its_mismatches() -> None:
    lines = [("A", "S1", "heat"), ("B", "S2", "heat"), ("B", "S3", "cold_water"), ("C", "S4", "hot_water"),
             ("C", "S5", "heat")]
    book = demo_book(lines)
    # A dropped (unknown account); S2's serial altered; S3's resource changed to hot water; one extra device under B
    assert book["accounts"] == {
        "B": [{"device_id": "D00001", "serial": "S2-РИЦ", "resource": "heat"},
              {"device_id": "D00002", "serial": "S3", "resource": "hot_water"},
              {"device_id": "D00005", "serial": "EXTRA5", "resource": "electricity"}],
        "C": [{"device_id": "D00003", "serial": "S4", "resource": "hot_water"},
              {"device_id": "D00004", "serial": "S5", "resource": "heat"}]}


def test_the_protocol_page_words() -> None:
    from ui.billing_runs_page import by_resource, duration_text
    # 65 s → 1:05; 3 h 2 min 5 s = 10925 s → 3:02:05
    assert (duration_text(None), duration_text(65.4), duration_text(10925)) == ("—", "1:05", "3:02:05")
    assert by_resource({}) == "0"
