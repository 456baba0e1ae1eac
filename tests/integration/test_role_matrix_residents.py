"""Residents and staff keep apart over /api/v1 (manual 3.1, docs/residents.md): a resident's session opens no
staff route, read or write, and no staff member's API token opens a residents' route.

The staff routes are every operation of the app's OpenAPI document outside /api/v1/resident/, so a route added
later is called too; the writes are those of test_role_matrix_writes.py, with bodies a permitted role's token gets
accepted, so the 401 is the session's and not a bad body's.
"""

from __future__ import annotations

import re

from tests.integration.test_role_matrix_writes import ROLES, WRITES, World, world_fixture  # noqa: F401 - the fixture
from tests.integration.test_role_matrix_writes import _fill as fill

RESIDENTS = "/api/v1/resident/"
# a parameter by name: a seeded day of January 2026 (tests/cloud_data.py), its resource, apartment 1's LoRa device
QUERY = {"resource": "heat", "period": "2026-01-11", "channel": "1", "kind": "hour", "from": "2026-01-10",
         "to": "2026-01-12", "year": "2026", "model": "KARAT-307", "dev_eui": "0000000000000001",
         "key": "channel_verification_act"}
# a path parameter naming a seeded object; other ids are 1 (the session is refused before anything is looked up)
PATH_ONLY = {"kind": "account"}  # a billing run's items (the query's kind is an archive's)
PATH = {"building_id": "b", "premise_id": "p", "meter_id": "m", "city_id": "city", "user_id": "user"}


def _operations(world: World, residents: bool) -> list[tuple[str, str, list[str]]]:
    """(method, path, required query parameters) of every /api/v1 operation of the residents' app or of the staff."""
    found = []
    for path, operations in world.app.openapi()["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith(RESIDENTS) != residents:
            continue
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p.get("required") and p["in"] == "query"]
            found.append((method, path, query))
    return found


def _value(name: str, world: World) -> str:
    """A well-formed value of a path or query parameter (valid ids of the seed where there are some)."""
    return str(world.ids[PATH[name]]) if name in PATH else QUERY.get(name, "1")


def _url(path: str, world: World) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_ONLY.get(m.group(1)) or _value(m.group(1), world), path)


async def _resident_token(world: World) -> str:
    disp = (await world.services.auth.login("disp", "disp-pass")).token
    code = await world.services.residents.generate(disp, world.ids["p"])
    return (await world.services.resident_app.register(code.code, "anna@example.ru", "Житель", "",
                                                       "resident-pass")).token


async def test_a_residents_session_opens_no_staff_route(world: World) -> None:
    token = await _resident_token(world)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await world.client.get("/api/v1/resident/home", headers=headers)).status_code == 200  # a live session
    reads = [(p, q) for m, p, q in _operations(world, residents=False) if m == "get"]
    assert len(reads) > 60  # the staff's GET routes of the document (85 in November 2026)
    wrong = {}
    for path, query in reads:
        params = {n: _value(n, world) for n in query}
        answer = await world.client.get(_url(path, world), params=params, headers=headers)
        if answer.status_code != 401:
            wrong[f"GET {path}"] = f"{answer.status_code} {answer.text[:100]}"
    for write in WRITES:
        answer = await world.client.request(write.method, write.path.format(**world.ids), headers=headers,
                                            json=fill(write.body, world.ids))
        if answer.status_code != 401:
            wrong[f"{write.method.upper()} {write.path}"] = f"{answer.status_code} {answer.text[:100]}"
    assert not wrong, "\n".join(f"{what}: {got}" for what, got in wrong.items())


async def test_no_staff_token_opens_a_residents_route(world: World) -> None:
    token = await _resident_token(world)  # a resident exists, so a refusal is not an empty app's
    routes = [(m, p) for m, p, _ in _operations(world, residents=True)
              if not p.endswith(("/login", "/register", "/logout"))]  # open to everyone: they make (or end) a session
    assert len(routes) >= 7  # home, consumption, meters, tickets (list, new, one), notices
    wrong = {}
    for role in ROLES:
        for method, path in routes:
            body = {"premise_id": world.ids["p"], "description": "Течёт кран"} if path.endswith("/tickets") else None
            answer = await world.client.request(method, _url(path, world), json=body, headers={
                "Authorization": f"Bearer {world.tokens[role]}"}, params={"resource": "heat", "period": "2026-01-01"})
            if answer.status_code != 401:
                wrong[f"{role}: {method.upper()} {path}"] = f"{answer.status_code} {answer.text[:100]}"
    assert not wrong, "\n".join(f"{what}: {got}" for what, got in wrong.items())
    assert (await world.client.get("/api/v1/resident/home", headers={"Authorization": f"Bearer {token}"})
            ).status_code == 200  # the resident's own session still works
