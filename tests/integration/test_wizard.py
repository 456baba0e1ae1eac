"""The add-meter wizard, the meter view, meter documents and communicators (manual 4.5.2, 4.5.6, 4.5.7)
over the real registry and chDB: every model created through the service with the channels the manual
gives it, the edge's meter list carrying it (a meter_config command), the 4.5.7 warning in the event
journal, the passport read from a radio packet, documents round-tripped with their SHA-256 and a
tampered file refused, communicator fields refused one by one; roles (only an engineer adds, readers
read, administrators see nothing, another company's objects are not found) and the /api/v1 answers."""

# ruff: noqa: S105 - the admin passwords and their "set"/"factory" states here are test values
from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from cloud.services import audit
from cloud.services.commands import site_meters
from cloud.services.communicators import CommunicatorSpec
from cloud.services.container import Services
from cloud.services.documents import MAX_BYTES, DocumentCorrupted
from cloud.services.meter_wizard import NO_SEASON_CODE
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.wizard_rules import LineChoice
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_wizard
from tests.support_api import api_client


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    flat: int  # premise "1"
    tokens: dict[str, str]


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    support_wizard.add_engineers(registry, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng", "stranger-eng")}
    return World(services, registry, seeded, support_wizard.premise(registry, seeded.building_id, "1"), tokens)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


async def test_every_model_is_created_with_its_channels_line_and_kit(world: World) -> None:
    eng = world.tokens["eng"]
    drafts = support_wizard.drafts(world.seeded.building_id, world.flat)
    made = {model: await world.services.wizard.confirm(eng, d) for model, d in drafts.items()}
    channels = {m: [(c.number, c.resource.value, c.tariff) for c in r.meter.channels] for m, r in made.items()}
    # manual 4.5.2 model by model, channels from protocol/catalogue.py
    assert channels["KARAT-Compact-2-223"] == [(1, "heat", None), (2, "hot_water", None), (3, "cold_water", None)]
    assert channels["KARAT-Compact-2-213"] == [(1, "heat", None), (2, "cold_water", None), (3, "cold_water", None)]
    assert channels["KARAT-926LW"] == [(1, "hot_water", None)]
    assert channels["KARAT-941LW"] == [(1, "electricity", "total"), (2, "electricity", "T1"),
                                       (3, "electricity", "T2")]
    assert channels["KARAT-927LW"] == [(1, "hot_water", None), (2, "cold_water", None), (3, "hot_water", None),
                                       (4, "gas", None)]
    assert channels["KARAT-307"] == [(1, "heat", None), (2, "hot_water", None), (3, "cold_water", None)]
    assert channels["KARAT-306"] == [(1, "heat", None), (2, "hot_water", None)]
    assert channels["KARAT-929LW"] == channels["KARAT-307"]  # the module forwards its calculator's channels
    assert made["KARAT-941LW"].meter.phase == "B"
    assert made["KARAT-941LW"].meter.tariffs == 2
    assert made["KARAT-307"].meter.communicator == "Modbus TCP 10.0.0.5:502 #3"
    assert made["KARAT-306"].meter.communicator == "GPRS 356938035643809"
    assert made["KARAT-Compact-2-223"].meter.communicator == "LoRaWAN 70b3d5e75e2a0101"
    # heat meters in a building with no heating season are warned about (4.5.7); the rest are not
    warned = {m for m, r in made.items() if NO_SEASON_CODE in r.warnings}
    assert warned == {"KARAT-Compact-2-223", "KARAT-Compact-2-213", "KARAT-307", "KARAT-306", "KARAT-929LW"}

    view = await world.services.wizard.view(eng, made["KARAT-929LW"].meter.id)
    assert view.calculator == "KARAT-307"
    assert [(k.kind, k.serial) for k in view.kit][-1] == ("radio_module", "929M0001")
    assert view.communicator is not None
    assert view.communicator.spec.placement == "builtin"
    assert view.communicator.spec.building_id == world.seeded.building_id
    svk = await world.services.wizard.view(world.tokens["reader"], made["KARAT-926LW"].meter.id)
    assert (svk.verified_on, svk.next_verification_on) == (date(2025, 9, 1), date(2031, 9, 1))
    assert not svk.may_service  # a reader sees it, changes nothing
    assert (await world.services.wizard.view(eng, made["KARAT-Compact-2-223"].meter.id)).barcode == "223W0001"
    electricity = await world.services.wizard.view(eng, made["KARAT-941LW"].meter.id)
    assert electricity.admin_password == "set"
    assert electricity.phases == 1
    restored = await world.services.wizard.restore_factory_password(eng, made["KARAT-941LW"].meter.id)
    assert restored.admin_password == "factory"
    with pytest.raises(InvalidInput, match=r"^meter_id: a KARAT-926LW has no admin password"):
        await world.services.wizard.set_admin_password(eng, made["KARAT-926LW"].meter.id, "x")
    assert len(_audit(world, "meter.kit")) == 8
    assert len(_audit(world, "meter.create")) == 8
    assert [e.after for e in _audit(world, "meter.admin_password")] == [{"admin_password": "factory"}]

    # each confirmation pushed the site's whole meter list to the edge. A meter added with no
    # commissioning date waits for its «Установка ПУ» (manual 4.5.5) outside the list; the TCP
    # calculator was registered with its commissioning time (installed before), so it is in the
    # newest list with its line's address; the GPRS meter never is (a GPRS modem calls the cloud)
    commands = await world.services.commands.list(eng, kind="meter_config")
    assert len(commands) == 8
    newest = await world.services.commands.get(eng, made["KARAT-929LW"].config_command or "")
    listed = {m["serial"]: m for m in newest.args["meters"]}
    assert set(listed) == {"223T0001", "223T0002", "307T0001", "307W0001"}
    tcp = listed["307W0001"]
    assert (tcp["transport"], tcp["host"], tcp["port"], tcp["unit"]) == ("modbus-tcp", "10.0.0.5", 502, 3)
    assert tcp["commissioned"] == "2026-01-14T09:00:00+00:00"


async def test_the_no_season_warning_reaches_the_event_journal_and_stops_once_a_season_is_set(
        world: World) -> None:
    eng, b = world.tokens["eng"], world.seeded.building_id
    drafts = support_wizard.drafts(b, world.flat)
    first = await world.services.wizard.confirm(eng, drafts["KARAT-Compact-2-223"])
    assert first.warnings == (NO_SEASON_CODE,)
    journal = await world.services.events.journal(world.tokens["disp"], b)
    events = [e for g in journal.meters for e in g.events if e.code == NO_SEASON_CODE]
    assert [(e.severity, e.source, e.detail["meter_id"]) for e in events] == [("warning", "cloud", first.meter.id)]
    await world.services.heating.set_season(world.tokens["disp"], [b], "heating", date(2025, 10, 1))
    second = await world.services.wizard.confirm(eng, drafts["KARAT-Compact-2-213"])
    assert second.warnings == ()
    check = await world.services.wizard.check(eng, drafts["KARAT-307"], "review")
    assert check.review is not None
    assert check.review.warnings == ()


async def test_steps_refuse_with_the_field_and_the_registry_facts(world: World) -> None:
    eng, b = world.tokens["eng"], world.seeded.building_id
    drafts = support_wizard.drafts(b, world.flat)
    compact = drafts["KARAT-Compact-2-223"]
    taken = replace(compact, serial="223T0001")  # the seeded flat meter's serial
    with pytest.raises(InvalidInput, match=r"^serial: meter .* has serial '223T0001' already"):
        await world.services.wizard.check(eng, taken, "barcode")
    assert (await world.services.wizard.check(eng, replace(compact, serial=""), "barcode")).serial == "223W0001"
    other_flat = replace(compact, premise_id=support_wizard.premise(world.registry, b, "2") + 1000)
    with pytest.raises(InvalidInput, match=r"^premise_id: the building .* has no premise"):
        await world.services.wizard.check(eng, other_flat, "location")
    with pytest.raises(NotFound):
        await world.services.wizard.check(eng, replace(compact, building_id=world.seeded.other_building_id),
                                          "location")
    # a built-in communicator that serves a meter already cannot take a second
    first = await world.services.wizard.confirm(eng, compact)
    reuse = replace(drafts["KARAT-926LW"], line=LineChoice("existing", communicator_id=first.communicator_id))
    with pytest.raises(InvalidInput, match=r"^line.communicator_id: built-in communicator .* already serves"):
        await world.services.wizard.check(eng, reuse, "line")
    again = replace(drafts["KARAT-926LW"], line=support_wizard.lora("70b3d5e75e2a0101"))
    with pytest.raises(InvalidInput, match=r"^line.spec.dev_eui: 70b3d5e75e2a0101 is registered already"):
        await world.services.wizard.confirm(eng, again)
    assert [c.id for c in await world.services.wizard.line_choices(eng, "KARAT-926LW")] == []
    assert [c.spec.kind for c in await world.services.wizard.line_choices(eng, "KARAT-307")] == []
    review = (await world.services.wizard.check(eng, drafts["KARAT-941LW"], "review")).review
    assert review is not None
    assert review.admin_password == "set"
    assert review.communicator == "LoRaWAN 70b3d5e75e2a0104"
    # nothing half-made: a refused confirmation leaves no communicator behind
    before = len(await world.services.communicators.list(eng))
    with pytest.raises(InvalidInput):
        await world.services.wizard.confirm(eng, replace(drafts["KARAT-927LW"], inputs=3))
    assert len(await world.services.communicators.list(eng)) == before


async def test_only_an_engineer_adds_a_meter(world: World) -> None:
    d = support_wizard.drafts(world.seeded.building_id, world.flat)["KARAT-926LW"]
    for login in ("disp", "reader", "admin"):
        with pytest.raises(Forbidden):
            await world.services.wizard.confirm(world.tokens[login], d)
        with pytest.raises(Forbidden):
            await world.services.wizard.check(world.tokens[login], d, "type")
    with pytest.raises(NotFound):  # another company's engineer: the building does not exist for them
        await world.services.wizard.confirm(world.tokens["stranger-eng"], d)
    meter = world.registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    with pytest.raises(NotFound):
        await world.services.wizard.view(world.tokens["admin"], meter)
    with pytest.raises(NotFound):
        await world.services.wizard.view(world.tokens["stranger"], meter)
    with pytest.raises(Forbidden):
        await world.services.wizard.restore_factory_password(world.tokens["disp"], meter)
    assert world.registry.one("SELECT count(*) AS n FROM meters WHERE serial = '926W0001'")["n"] == 0


async def test_the_passport_comes_from_the_newest_radio_packet(world: World, clickhouse: ClickHouse) -> None:
    eng, b = world.tokens["eng"], world.seeded.building_id
    assert await world.services.wizard.passport(eng, b, support_wizard.PASSPORT_EUI) is None
    support_wizard.passport_row(clickhouse, "test", cloud_data.NOW - timedelta(hours=2))
    found = await world.services.wizard.passport(eng, b, "70-B3-D5-E7-5E-2A-02-23")
    assert found is not None
    assert (found.model, found.serial, found.firmware, found.verified_on, found.inputs) == (
        "KARAT-Compact-2-223", "22300077", "1.4", date(2025, 8, 20), ("heat", "hot_water", "cold_water"))
    with pytest.raises(InvalidInput, match=r"^dev_eui: "):
        await world.services.wizard.passport(eng, b, "12")
    with pytest.raises(NotFound):  # the other company's building: its site's packets are not read
        await world.services.wizard.passport(eng, world.seeded.other_building_id, support_wizard.PASSPORT_EUI)


async def test_documents_round_trip_with_their_checksum_and_a_tampered_file_is_refused(world: World) -> None:
    docs, eng, reader = world.services.documents, world.tokens["eng"], world.tokens["reader"]
    meter = world.registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    data = b"%PDF-1.4 passport of 223T0001\n" * 40
    info = await docs.upload(eng, meter, "meter_passport", "C:\\scans\\Паспорт 223T0001.pdf", data)
    assert (info.name, info.size, info.sha256, info.content_type, info.uploaded_by) == (
        "Паспорт 223T0001.pdf", 1200, hashlib.sha256(data).hexdigest(), "application/pdf", "Инженер Тест")
    cert = await world.services.documents.upload(world.tokens["disp"], meter, "sensor_certificate", "kt.jpg",
                                                 b"\xff\xd8jpeg", sensor="KT-201")
    assert [d.id for d in await docs.list(reader, meter)] == [cert.id, info.id]  # newest first
    got, body = await docs.download(reader, info.id)
    assert body == data
    assert got == info
    files = sorted(p.name for p in (world.registry.path.parent / "documents").iterdir())
    assert len(files) == 2
    assert not any(name.endswith(".part") for name in files)
    assert all("Паспорт" not in name for name in files)  # stored under a random name

    stored = world.registry.one("SELECT stored_name FROM meter_documents WHERE id = ?", info.id)["stored_name"]
    path = world.registry.path.parent / "documents" / stored
    path.write_bytes(data.replace(b"223T0001", b"223T0009"))  # same size, other content
    with pytest.raises(DocumentCorrupted, match="does not match its checksum"):
        await docs.download(eng, info.id)
    path.unlink()
    with pytest.raises(DocumentCorrupted, match="missing"):
        await docs.download(eng, info.id)

    for kind, name, body_, sensor, field, why in (
            ("meter_passport", "empty.pdf", b"", "", "file", "is empty"),
            ("meter_passport", "big.pdf", b"x" * (MAX_BYTES + 1), "", "file", "at most 20 MB"),
            ("photo", "a.jpg", b"x", "", "kind", "one of"),
            ("sensor_passport", "s.pdf", b"x", "", "sensor", "serial of the sensor"),
            ("meter_passport", "s.pdf", b"x", "KT-1", "sensor", "only a sensor's"),
            ("meter_passport", "   ", b"x", "", "name", "file's name")):
        with pytest.raises(InvalidInput, match=rf"^{field}: .*{why}"):
            await docs.upload(eng, meter, kind, name, body_, sensor)
    with pytest.raises(Forbidden):
        await docs.upload(reader, meter, "meter_passport", "r.pdf", b"x")
    with pytest.raises(Forbidden):
        await docs.delete(reader, cert.id)
    with pytest.raises(NotFound):
        await docs.list(world.tokens["stranger"], meter)
    with pytest.raises(NotFound):
        await docs.download(world.tokens["stranger"], cert.id)
    with pytest.raises(NotFound):
        await docs.list(world.tokens["admin"], meter)
    await docs.delete(eng, cert.id)
    assert [d.id for d in await docs.list(eng, meter)] == [info.id]
    assert len(list((world.registry.path.parent / "documents").iterdir())) == 0  # its file went with it
    assert [e.action for e in _audit(world, "meter.document.delete")] == ["meter.document.delete"]
    assert len(_audit(world, "meter.document.upload")) == 2


async def test_communicator_fields_are_refused_one_by_one(world: World) -> None:
    lines, disp = world.services.communicators, world.tokens["disp"]
    b = world.seeded.building_id
    for spec, field in ((CommunicatorSpec("tcp", "external", host="10.0.0.5 ", port=0), "port"),
                        (CommunicatorSpec("tcp", "external", host="bad host!", port=502), "host"),
                        (CommunicatorSpec("gprs", "external", imei="356938035643809"), "iccid"),
                        (CommunicatorSpec("gprs", "external", imei="35693803", phone="+79001234567"), "imei"),
                        (CommunicatorSpec("gprs", "external", imei="356938035643809", iccid="89"), "iccid"),
                        (CommunicatorSpec("lora", "builtin", dev_eui="xyz", lora_class="A",
                                          lorawan_version="1.0.2"), "dev_eui"),
                        (CommunicatorSpec("lora", "builtin", dev_eui="0011223344556677", lora_class="A",
                                          lorawan_version="2.0"), "lorawan_version"),
                        (CommunicatorSpec("tcp", "inside", host="h", port=1), "placement"),
                        (CommunicatorSpec("tcp", "external", host="h", port=1, name="x" * 101), "name")):
        with pytest.raises(InvalidInput, match=rf"^{field}: "):
            await lines.create(disp, spec)
    with pytest.raises(NotFound):
        await lines.create(disp, CommunicatorSpec("tcp", "external", host="h", port=1,
                                                  building_id=world.seeded.other_building_id))
    made = await lines.create(disp, CommunicatorSpec("gprs", "external", name="Шкаф 1", building_id=b,
                                                     imei="356938035643809", phone="+79001234567"))
    assert (made.spec.name, made.spec.building_id) == ("Шкаф 1", b)
    edited = await lines.update(disp, made.id, replace(made.spec, name="Шкаф 2", iccid="8970101234567890123"))
    assert (await lines.get(world.tokens["reader"], made.id)).spec == edited.spec
    with pytest.raises(Forbidden):
        await lines.update(world.tokens["reader"], made.id, made.spec)


@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    tokens = await cloud_data.own_tokens(world.services, world.registry, ("eng", "disp", "reader"))
    eng, disp, reader = ({"Authorization": f"Bearer {tokens[k]}"} for k in ("eng", "disp", "reader"))
    b = world.seeded.building_id
    body = {"role": "individual", "model": "KARAT-Compact-2-223", "building_id": b, "premise_id": world.flat,
            "serial": "223A0001", "line": {"mode": "builtin", "communicator": {
                "kind": "lora", "placement": "builtin", "dev_eui": "70b3d5e75e2a0a01", "lora_class": "A",
                "lorawan_version": "1.0.2"}}}
    models = (await client.get("/api/v1/wizard/models", headers=eng)).json()
    assert {m["name"] for m in models} >= {"KARAT-307", "KARAT-929LW", "KARAT-941LW"}
    bad = await client.post("/api/v1/wizard/check?step=config", headers=eng,
                            json={**body, "channel_resources": {"2": "gas"}})
    assert bad.status_code == 422
    assert bad.json()["message"].startswith("channel_resources: ")
    ok = await client.post("/api/v1/wizard/check?step=review", headers=eng, json=body)
    assert ok.status_code == 200
    assert ok.json()["review"]["warnings"] == [NO_SEASON_CODE]
    assert (await client.post("/api/v1/wizard/meters", headers=disp, json=body)).status_code == 403
    created = await client.post("/api/v1/wizard/meters", headers=eng, json=body)
    assert created.status_code == 201, created.text
    meter = created.json()["meter"]["id"]
    view = (await client.get(f"/api/v1/meters/{meter}/view", headers=reader)).json()
    assert view["meter"]["serial"] == "223A0001"
    assert view["documents"] == 0

    data = b"certificate scan"
    up = await client.post(f"/api/v1/meters/{meter}/documents?kind=meter_certificate&name=cert.pdf",
                           headers={**eng, "Content-Type": "application/octet-stream"}, content=data)
    assert up.status_code == 201
    assert up.json()["sha256"] == hashlib.sha256(data).hexdigest()
    doc = up.json()["id"]
    down = await client.get(f"/api/v1/documents/{doc}", headers=reader)
    assert down.content == data
    assert down.headers["x-checksum-sha256"] == hashlib.sha256(data).hexdigest()
    assert down.headers["content-type"] == "application/pdf"
    empty = await client.post(f"/api/v1/meters/{meter}/documents?kind=meter_certificate&name=e.pdf", headers=eng,
                              content=b"")
    assert empty.status_code == 422
    assert "empty" in empty.json()["message"]
    stored = world.registry.one("SELECT stored_name FROM meter_documents WHERE id = ?", doc)["stored_name"]
    (world.registry.path.parent / "documents" / stored).write_bytes(b"certificate scaX")
    tampered = await client.get(f"/api/v1/documents/{doc}", headers=reader)
    assert tampered.status_code == 409
    assert tampered.json()["code"] == "document_corrupted"
    assert (await client.delete(f"/api/v1/documents/{doc}", headers=reader)).status_code == 403
    assert (await client.delete(f"/api/v1/documents/{doc}", headers=eng)).status_code == 204

    line = await client.post("/api/v1/communicators", headers=disp, json={"kind": "gprs", "imei": "356938035643809"})
    assert line.status_code == 422
    assert line.json()["message"].startswith("iccid: ")
    line = await client.post("/api/v1/communicators", headers=disp, json={"kind": "tcp", "host": "10.1.1.1",
                                                                          "port": 4001, "name": "MOXA"})
    assert line.status_code == 201
    listed = (await client.get("/api/v1/communicators", headers=reader)).json()
    assert [c["spec"]["name"] for c in listed][-1] == "MOXA"


async def test_api_roles(world: World, client: httpx.AsyncClient) -> None:
    """Every write of this module refused to whom the manual does not allow it; reads scoped by company."""
    tokens = await cloud_data.own_tokens(world.services, world.registry, ("eng", "disp", "reader", "admin", "stranger"))
    h = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    meter = world.registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    doc = await world.services.documents.upload(world.tokens["eng"], meter, "meter_passport", "p.pdf", b"x")
    line = await world.services.communicators.create(world.tokens["eng"], CommunicatorSpec(
        "tcp", "external", host="10.2.2.2", port=502))
    draft = {"role": "individual", "model": "KARAT-926LW"}
    tcp = {"kind": "tcp", "host": "10.3.3.3", "port": 502}
    expected = (  # (method, path, body, {login: status})
        ("POST", "/api/v1/wizard/check?step=type", draft, {"disp": 403, "reader": 403, "admin": 403, "eng": 200}),
        ("POST", "/api/v1/wizard/meters", draft, {"disp": 403, "reader": 403, "admin": 403}),
        ("GET", "/api/v1/wizard/models", None, {"disp": 403, "reader": 403, "admin": 403, "eng": 200}),
        ("PUT", f"/api/v1/meters/{meter}/admin-password", {"password": "x1"},
         {"disp": 403, "reader": 403, "admin": 403, "stranger": 403}),
        ("GET", f"/api/v1/meters/{meter}/view", None, {"reader": 200, "disp": 200, "admin": 404, "stranger": 404}),
        ("GET", f"/api/v1/meters/{meter}/documents", None, {"reader": 200, "admin": 404, "stranger": 404}),
        ("GET", f"/api/v1/documents/{doc.id}", None, {"reader": 200, "admin": 404, "stranger": 404}),
        ("DELETE", f"/api/v1/documents/{doc.id}", None, {"reader": 403, "admin": 403, "stranger": 404}),
        ("POST", "/api/v1/communicators", tcp, {"reader": 403, "admin": 403}),
        ("PUT", f"/api/v1/communicators/{line.id}", tcp, {"reader": 403, "admin": 403, "stranger": 404}),
        ("GET", f"/api/v1/communicators/{line.id}", None, {"reader": 200, "admin": 404, "stranger": 404}),
    )
    for method, path, body, answers in expected:
        for login, status in answers.items():
            got = await client.request(method, path, headers=h[login], json=body)
            assert got.status_code == status, f"{method} {path} as {login}: {got.status_code} {got.text[:200]}"
    upload = await client.post(f"/api/v1/meters/{meter}/documents?kind=meter_passport&name=r.pdf", headers=h["reader"],
                               content=b"x")
    assert upload.status_code == 403
    assert world.registry.one("SELECT count(*) AS n FROM meter_documents")["n"] == 1


async def test_an_added_meter_is_not_polled_until_its_installation_commissions_it(world: World) -> None:
    """Manual 4.5.5: a meter sends its archives once «Установка ПУ» is complete. Added by the wizard it
    is out of the edge's meter list; commissioned on the 13th (local), it is in, polled from then."""
    eng = world.tokens["eng"]
    made = await world.services.wizard.confirm(eng, support_wizard.drafts(world.seeded.building_id,
                                                                        world.flat)["KARAT-Compact-2-223"])
    serial, site = made.meter.serial, _site(world)

    def listed() -> dict[str, dict]:
        with world.registry.connect() as db:
            return {m["serial"]: m for m in site_meters(db, site, cloud_data.NOW)}
    assert serial not in listed()
    p = world.services.procedures
    started = await p.start(eng, made.meter.id, "install", "commissioning")
    assert serial not in listed()
    # commissioned on 13.01.2026 (the building's zone, Europe/Moscow): polled from its local midnight,
    # 12.01.2026 21:00 UTC
    await p.complete(eng, started.id, done_on=date(2026, 1, 13),
                     settings={"next_verification_on": "2032-01-13", "archive_kinds": ["hour"]})
    assert listed()[serial]["commissioned"] == "2026-01-12T21:00:00+00:00"


def _site(world: World) -> str:
    return world.registry.one("SELECT site FROM buildings WHERE id = ?", world.seeded.building_id)["site"]
