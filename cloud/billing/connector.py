"""The connector to a billing centre (manual 4.4.2: «требует индивидуальной реализации для каждого
РИЦ»): an interface with the two operations of an export run, and its first implementation, the HTTP
JSON exchange of docs/billing.md with aiohttp as the client.

Failures are of two kinds. ``TransportError``: the centre could not be reached, did not answer in
time or answered 5xx, or answered with a body that is not the exchange's message; the run retries
it with backoff. ``RefusedError``: the centre answered 4xx (a wrong token, a malformed request): a
retry would get the same answer, so the run ends failed at once with the centre's words.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from protocol import billing as p

CONNECTORS = ("http-json",)
TIMEOUT_SECONDS = 30.0
PACKAGE_SIZE = 500  # readings per /readings request


class TransportError(Exception):
    """The exchange did not happen (retried)."""


class RefusedError(Exception):
    """The centre refused the request itself (not retried)."""


class BillingConnector(Protocol):
    async def match_accounts(self, accounts: list[str]) -> dict[str, p.AccountAnswer]: ...

    async def send_readings(self, package_id: str, readings: list[p.Reading]) -> dict[str, p.Result]: ...


class HttpJsonConnector:
    """POST JSON to ``{url}/accounts/match`` and ``{url}/readings`` with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def _post(self, path: str, body: dict[str, Any]) -> object:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.post(f"{self.url}{path}", json=body, headers=headers) as answer:
                text = await answer.text()
                if answer.status >= 500:
                    raise TransportError(f"РИЦ ответил {answer.status} на {path}: {text[:200]}")
                if answer.status >= 400:
                    raise RefusedError(f"РИЦ отказал ({answer.status}) на {path}: {text[:200]}")
                try:
                    return await answer.json(content_type=None)
                except ValueError as error:
                    raise TransportError(f"РИЦ ответил на {path} не JSON: {text[:200]}") from error
        except TimeoutError as error:
            raise TransportError(f"РИЦ не ответил на {path} за {self.timeout:g} с") from error
        except aiohttp.ClientError as error:
            raise TransportError(f"РИЦ недоступен ({path}): {error}") from error

    async def match_accounts(self, accounts: list[str]) -> dict[str, p.AccountAnswer]:
        body = await self._post("/accounts/match", p.match_request(accounts))
        try:
            return p.parse_match(body, accounts)
        except p.ProtocolError as error:
            raise TransportError(f"ответ РИЦ на /accounts/match не по протоколу: {error}") from error

    async def send_readings(self, package_id: str, readings: list[p.Reading]) -> dict[str, p.Result]:
        body = await self._post("/readings", p.readings_request(package_id, readings))
        try:
            return p.parse_results(body, readings)
        except p.ProtocolError as error:
            raise TransportError(f"ответ РИЦ на /readings не по протоколу: {error}") from error


def connector_for(kind: str, url: str, token: str, timeout: float = TIMEOUT_SECONDS) -> BillingConnector:
    if kind == "http-json":
        return HttpJsonConnector(url, token, timeout)
    raise ValueError(f"connector: unknown kind {kind!r}")
