"""A billing centre (РИЦ) for tests and demos: the other side of the HTTP JSON exchange of
docs/billing.md (protocol/billing.py), with accounts and devices of its own (its «book»).

It answers ``POST /accounts/match`` from the book, and ``POST /readings`` by these rules, in order:
a key it accepted before is "accepted" again without a second record (idempotency); a device not under
the reading's account is rejected ``unknown_device``; a reading dated more than 10 days before the
centre's today is rejected ``no_recent_readings`` («нет показаний за последние 10 дней»); a value lower
than the last one accepted for the device and zone (or the book's ``last`` value, as if keyed in
through the centre's own interface) is rejected ``lower_than_previous``. ``GET /received`` shows what
it accepted. It can be told to answer 500s (``mode = "error"``), to keep silent past any timeout
(``mode = "timeout"``), to be down (``await stop()``; ``start()`` brings it back on the same port), and
to hold a /readings answer after recording it (``hold``: a restart in the middle of a run).

Book (JSON file or dict): {"token": "...", "accounts": {"<account>": [{"device_id", "serial",
"resource"}]}, "last": {"<device_id>": {"T1": 12.5}}}. ``demo_book`` builds one with deliberate
mismatches. Run: ``python -m simulators.billing_centre --port 8095 --book book.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from protocol import billing as p

log = logging.getLogger(__name__)
MAX_AGE_DAYS = 10
NO_RECENT_TEXT = "нет показаний за последние 10 дней"
LOWER_TEXT = "показание меньше переданного ранее ({last:g})"
UNKNOWN_DEVICE_TEXT = "прибор {device} не числится на лицевом счёте {account}"


@dataclass(frozen=True, slots=True)
class Accepted:
    package_id: str
    reading: p.Reading


def demo_book(lines: Sequence[tuple[str, str, str]], *, token: str = "demo-ric-token",  # noqa: S107 - a demo's
              unknown_accounts: int = 1, wrong_serials: int = 1, wrong_resources: int = 1,
              extra_devices: int = 1) -> dict[str, Any]:
    """A book from our (account, serial, resource) lines with deliberate mismatches, in the order of
    ``lines`` (distinct accounts): the first ``unknown_accounts`` accounts are left out (→ «ЛС
    отсутствует в РИЦ»), then ``wrong_serials`` lines get another serial (→ «№ ПУ не найден»), then
    ``wrong_resources`` lines another resource (→ the serial under another resource), and the centre
    lists ``extra_devices`` devices we do not have. Device ids are D00001, D00002, ..."""
    accounts: dict[str, list[dict[str, str]]] = {}
    order = list(dict.fromkeys(a for a, _, _ in lines))
    dropped = set(order[:unknown_accounts])
    serial_left, resource_left, extra_left = wrong_serials, wrong_resources, extra_devices
    n = 0
    for account, serial, resource in lines:
        if account in dropped:
            continue
        n += 1
        if serial_left:
            serial, serial_left = f"{serial}-РИЦ", serial_left - 1
        elif resource_left:
            resource, resource_left = ("cold_water" if resource != "cold_water" else "hot_water"), resource_left - 1
        accounts.setdefault(account, []).append({"device_id": f"D{n:05d}", "serial": serial, "resource": resource})
    for account in list(accounts)[:extra_left]:
        n += 1
        accounts[account].append({"device_id": f"D{n:05d}", "serial": f"EXTRA{n}", "resource": "electricity"})
    return {"token": token, "accounts": accounts, "last": {}}


class BillingCentre:
    def __init__(self, book: dict[str, Any], today: Callable[[], date] = date.today) -> None:
        self.token = str(book.get("token", ""))
        self.accounts: dict[str, list[p.Device]] = {
            a: [p.Device(d["device_id"], d["serial"], d["resource"]) for d in devices]
            for a, devices in book.get("accounts", {}).items()}
        self.last: dict[tuple[str, str], float] = {(dev, zone): float(v) for dev, values in book.get("last", {}).items()
                                                   for zone, v in values.items()}
        self.today = today
        self.mode = "ok"  # "ok", "error" (500s), "timeout" (never answers in time)
        self.hold: asyncio.Event | None = None  # set: a /readings answer waits for it after recording
        self.accepted: dict[str, Accepted] = {}
        self.requests: list[tuple[str, int]] = []  # (path, items) of every request answered or held
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @classmethod
    def from_file(cls, path: Path, today: Callable[[], date] = date.today) -> BillingCentre:
        return cls(json.loads(path.read_text(encoding="utf-8")), today)

    # --- the exchange --------------------------------------------------------------------------------

    def match(self, accounts: list[str]) -> dict[str, Any]:
        return {"accounts": [{"account": a, "found": a in self.accounts,
                              "devices": [{"device_id": d.device_id, "serial": d.serial, "resource": d.resource}
                                          for d in self.accounts.get(a, [])]} for a in accounts]}

    def take(self, package_id: str, reading: p.Reading) -> p.Result:
        """Judge one reading by the rules of the module docstring; record it when accepted."""
        key = reading.idempotency_key
        if key in self.accepted:
            return p.Result(key, p.ACCEPTED)
        if reading.device_id not in {d.device_id for d in self.accounts.get(reading.account, [])}:
            return p.Result(key, p.REJECTED, "unknown_device",
                            UNKNOWN_DEVICE_TEXT.format(device=reading.device_id, account=reading.account))
        if date.fromisoformat(reading.reading_date) < self.today() - timedelta(days=MAX_AGE_DAYS):
            return p.Result(key, p.REJECTED, p.NO_RECENT, NO_RECENT_TEXT)
        for zone, value in reading.values.items():
            last = self.last.get((reading.device_id, zone))
            if last is not None and value < last:
                return p.Result(key, p.REJECTED, p.LOWER, LOWER_TEXT.format(last=last))
        for zone, value in reading.values.items():
            self.last[(reading.device_id, zone)] = value
        self.accepted[key] = Accepted(package_id, reading)
        return p.Result(key, p.ACCEPTED)

    def received(self) -> dict[str, Any]:
        return {"accepted": [{"package_id": a.package_id, **p.reading_json(a.reading)} for a in self.accepted.values()],
                "requests": [{"path": path, "items": n} for path, n in self.requests]}

    # --- HTTP ---------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/accounts/match", self._match)
        app.router.add_post("/readings", self._readings)
        app.router.add_get("/received", self._received)
        return app

    async def _guard(self, request: web.Request) -> Any:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            raise web.HTTPUnauthorized(text=json.dumps({"error": "неверный токен"}), content_type="application/json")
        if self.mode == "error":
            raise web.HTTPInternalServerError(text=json.dumps({"error": "внутренняя ошибка РИЦ"}),
                                              content_type="application/json")
        if self.mode == "timeout":
            await asyncio.sleep(3600)
        try:
            return await request.json()
        except ValueError as error:
            raise web.HTTPBadRequest(text=json.dumps({"error": f"не JSON: {error}"}),
                                     content_type="application/json") from error

    async def _match(self, request: web.Request) -> web.Response:
        body = await self._guard(request)
        accounts = body.get("accounts") if isinstance(body, dict) else None
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise web.HTTPBadRequest(text=json.dumps({"error": "accounts: список строк"}),
                                     content_type="application/json")
        self.requests.append(("/accounts/match", len(accounts)))
        return web.json_response(self.match(accounts))

    async def _readings(self, request: web.Request) -> web.Response:
        body = await self._guard(request)
        try:
            package = str(body["package_id"])
            readings = [p.parse_reading(r) for r in body["readings"]]
        except (KeyError, TypeError, p.ProtocolError) as error:
            raise web.HTTPBadRequest(text=json.dumps({"error": f"пакет не по протоколу: {error}"}),
                                     content_type="application/json") from error
        results = [self.take(package, r) for r in readings]
        self.requests.append(("/readings", len(readings)))
        if self.hold is not None:
            await self.hold.wait()
        return web.json_response({"package_id": package, "results": [
            {"idempotency_key": r.idempotency_key, "status": r.status, "code": r.code, "message": r.message}
            for r in results]})

    async def _received(self, request: web.Request) -> web.Response:
        return web.json_response(self.received())

    async def start(self, host: str = "127.0.0.1", port: int | None = None) -> int:
        """Serve (again) on ``port`` (0 or None the first time: a free one); the port."""
        if self._runner is None:
            self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
            await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, self.port if port is None else port)
        await self._site.start()
        server = self._site._server  # the bound port of a site started on port 0
        sockets = getattr(server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening (the centre is down); ``start()`` again brings it back on the same port."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def close(self) -> None:
        await self.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _serve(book: Path, host: str, port: int) -> None:
    centre = BillingCentre.from_file(book)
    await centre.start(host, port)
    log.info("billing centre simulator on http://%s:%s (%d accounts)", host, centre.port, len(centre.accounts))
    try:
        await asyncio.Event().wait()
    finally:
        await centre.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A billing centre (РИЦ) simulator: docs/billing.md")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--book", type=Path, required=True, help="JSON: token, accounts with devices, last values")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(args.book, args.host, args.port))


if __name__ == "__main__":
    main()
