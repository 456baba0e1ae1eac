"""The messages of the HTTP JSON exchange with a billing centre (docs/billing.md), pure: built from
and parsed into plain data, so that the connector, the simulator and the tests share one definition.

Two operations, both POST with ``Authorization: Bearer <token>``:
``/accounts/match`` {accounts: [...]} → {accounts: [{account, found, devices: [{device_id, serial,
resource}]}]}; ``/readings`` {package_id, readings: [...]} → {results: [{idempotency_key, status
"accepted" | "rejected", code, message}]}. Resources are protocol.vocabulary.Resource values.
A reading's idempotency key is stable per centre, meter, resource and period: a resend (a retry, a
restart in the middle of a run) is answered "accepted" again and never counted twice by the centre.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACCEPTED, REJECTED = "accepted", "rejected"
# the centre's codes the protocol names (others are shown as the centre words them)
NO_RECENT = "no_recent_readings"  # «за последние 10 дней не поступали показания по прибору учёта»
LOWER = "lower_than_previous"  # «показание меньше переданного ранее»


class ProtocolError(ValueError):
    """The centre answered with a body that is not the exchange's message."""


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    serial: str
    resource: str


@dataclass(frozen=True, slots=True)
class AccountAnswer:
    account: str
    found: bool
    devices: tuple[Device, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    idempotency_key: str
    account: str
    device_id: str
    serial: str
    resource: str
    period: str  # "YYYY-MM"
    reading_date: str  # ISO date of the reading (local)
    values: dict[str, float] = field(default_factory=dict)  # "T1", "T2", "T3"
    actual: bool = True  # always: nothing is estimated here (Government Decree 354, points 59-60)


@dataclass(frozen=True, slots=True)
class Result:
    idempotency_key: str
    status: str  # ACCEPTED or REJECTED
    code: str = ""
    message: str = ""


def idempotency_key(centre_id: int, meter_id: int, resource: str, period: str) -> str:
    """One key per centre, meter, resource and period: what the centre deduplicates by."""
    return f"c{centre_id}-m{meter_id}-{resource}-{period}"


def match_request(accounts: list[str]) -> dict[str, Any]:
    return {"accounts": list(accounts)}


def reading_json(r: Reading) -> dict[str, Any]:
    return {"idempotency_key": r.idempotency_key, "account": r.account, "device_id": r.device_id,
            "serial": r.serial, "resource": r.resource, "period": r.period, "reading_date": r.reading_date,
            "values": dict(r.values), "actual": r.actual}


def readings_request(package_id: str, readings: list[Reading]) -> dict[str, Any]:
    return {"package_id": package_id, "readings": [reading_json(r) for r in readings]}


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: {key} is not text")
    return value


def parse_match(body: object, asked: list[str]) -> dict[str, AccountAnswer]:
    """The centre's answer to /accounts/match, per account asked; an account it left out is unknown."""
    if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
        raise ProtocolError("accounts/match: no list 'accounts'")
    out: dict[str, AccountAnswer] = {}
    for n, item in enumerate(body["accounts"]):
        if not isinstance(item, dict):
            raise ProtocolError(f"accounts[{n}] is not an object")
        account = _text(item, "account", f"accounts[{n}]")
        devices = []
        for k, d in enumerate(item.get("devices") or []):
            if not isinstance(d, dict):
                raise ProtocolError(f"accounts[{n}].devices[{k}] is not an object")
            where = f"accounts[{n}].devices[{k}]"
            devices.append(Device(str(d.get("device_id", "")), _text(d, "serial", where), _text(d, "resource", where)))
        out[account] = AccountAnswer(account, bool(item.get("found")), tuple(devices))
    return {a: out.get(a, AccountAnswer(a, False)) for a in asked}


def parse_reading(item: object) -> Reading:
    """One reading of a /readings request (the simulator's side)."""
    if not isinstance(item, dict):
        raise ProtocolError("a reading is not an object")
    values = item.get("values")
    if not isinstance(values, dict) or not values or \
            not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
        raise ProtocolError("values: an object of numbers")
    return Reading(_text(item, "idempotency_key", "reading"), _text(item, "account", "reading"),
                   str(item.get("device_id", "")), _text(item, "serial", "reading"),
                   _text(item, "resource", "reading"), _text(item, "period", "reading"),
                   _text(item, "reading_date", "reading"), {str(k): float(v) for k, v in values.items()},
                   bool(item.get("actual", True)))


def parse_results(body: object, sent: list[Reading]) -> dict[str, Result]:
    """The centre's answer to /readings by idempotency key; a reading it did not answer is a protocol error."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ProtocolError("readings: no list 'results'")
    out: dict[str, Result] = {}
    for n, item in enumerate(body["results"]):
        if not isinstance(item, dict):
            raise ProtocolError(f"results[{n}] is not an object")
        key = _text(item, "idempotency_key", f"results[{n}]")
        status = _text(item, "status", f"results[{n}]")
        if status not in (ACCEPTED, REJECTED):
            raise ProtocolError(f"results[{n}].status: {status!r}")
        out[key] = Result(key, status, str(item.get("code", "")), str(item.get("message", "")))
    missing = [r.idempotency_key for r in sent if r.idempotency_key not in out]
    if missing:
        raise ProtocolError(f"readings: no answer for {len(missing)} readings (first {missing[0]})")
    return out
