"""The reports' /api/v1 operations (cloud/api_reports.py) through a real HTTP client against the app
(tests/integration/test_api_http.py's ``world``), over reports of the tests' own
(tests/support_reports_page.py): the list with each parameter's kind, the JSON form, the XLSX file
opened with openpyxl, a background job from start to file, 422 naming a bad parameter, 404 for
another company's building and for an administrator, 401 without a token, 429 for a fourth job."""

from __future__ import annotations

import io

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from openpyxl import load_workbook

from cloud import api_reports
from cloud.reports.engine import RESOURCE_CHOICES
from cloud.services.balance_groups import GroupDraft
from protocol.vocabulary import Resource
from tests import support_reports_page as support
from tests.integration import test_api_http
from tests.integration.test_api_http import World, _auth

world = test_api_http.world  # its fixture, under its own name
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def api(world: World) -> World:
    support.install(world.services)
    support.reset_gate()
    return world


async def _group(api: World) -> int:
    ids = {r["serial"]: r["id"] for r in api.registry.all("SELECT id, serial FROM meters")}
    group = await api.services.balance_groups.create(api.tokens["disp"], api.a["building"], GroupDraft(
        "Стояк А", Resource.HEAT, ids["307T0001"], ((ids["223T0001"], "+"),)))
    return group.id


def test_operation_ids_are_the_function_names(world: World) -> None:
    alone = FastAPI()
    router = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_reports.routes(router, world.services)
    alone.include_router(router)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {"list_reports", "get_report", "get_report_xlsx", "start_report_job", "list_report_jobs",
                          "get_report_job", "get_report_job_file"}


async def test_the_list_describes_every_parameter(api: World) -> None:
    c = api.client
    answer = await c.get("/api/v1/reports", headers=_auth(api.tokens["reader"]))
    assert answer.status_code == 200, answer.text
    listed = {r["key"]: r for r in answer.json()}
    assert list(listed)[:4] == ["all_kinds", "slow", "failing", "big"]
    kinds = listed["all_kinds"]
    assert [(p["name"], p["kind"], p["required"]) for p in kinds["params"]] == [
        ("building", "building", True), ("premise", "premise", False), ("meter", "meter", False),
        ("group", "group", False), ("resource", "resource", True), ("month", "month", True), ("day", "day", True),
        ("choice", "choice", True), ("text", "text", False), ("flag", "flag", True)]
    resource = kinds["params"][4]
    # a resource parameter without choices of its own takes every resource: the list says which
    assert [(ch["value"], ch["label"]) for ch in resource["choices"]] == list(RESOURCE_CHOICES)
    assert (resource["label"], resource["default"]) == ("Ресурс", "heat")
    assert kinds["params"][7]["choices"] == [{"value": "sum", "label": "Сумма"}, {"value": "mean", "label": "Среднее"}]
    assert kinds["section"] == "4.3.90"
    assert kinds["description"] == "Показывает каждый параметр так, как его прочёл отчёт."
    assert (await c.get("/api/v1/reports", headers=_auth(api.tokens["admin"]))).status_code == 404
    assert (await c.get("/api/v1/reports")).status_code == 401


async def test_the_json_form_has_the_rows_of_the_file(api: World) -> None:
    c, a, headers = api.client, api.a, _auth(api.tokens["disp"])
    group = await _group(api)
    query = (f"building={a['building']}&premise={a['premise']}&meter={a['meter']}&group={group}"
             "&resource=electricity&month=2025-12&day=2025-12-05&choice=sum&text=проверка&flag=true")
    answer = await c.get(f"/api/v1/reports/all_kinds?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    meter = api.registry.one("SELECT serial FROM meters WHERE id = ?", a["meter"])["serial"]
    assert body["parameters"] == {"building": a["building"], "premise": a["premise"], "meter": a["meter"],
                                  "group": group, "resource": "electricity", "month": "2025-12-01",
                                  "day": "2025-12-05", "choice": "sum", "text": "проверка", "flag": True}
    echo, numbers = body["sheets"]
    assert echo["columns"] == [{"key": "name", "title": "Параметр", "unit": "", "kind": "text"},
                               {"key": "value", "title": "Значение", "unit": "", "kind": "text"}]
    assert dict(map(tuple, echo["rows"])) == {
        "building": "ул. Тестовая, 1", "premise": "1", "meter": meter, "group": "Стояк А",
        "resource": "Электроэнергия", "month": "2025-12-01", "day": "2025-12-05", "choice": "sum",
        "text": "проверка", "flag": True}
    # numbers stay numbers; a missing value says so and is not a zero; a partial sum is marked
    assert numbers["rows"] == [["1", 1.25, 31], ["2", {"missing": True}, 30],
                               ["3", {"value": 0.5, "partial": True}, 29]]
    assert numbers["totals"] == ["Итого", {"value": 1.75, "partial": True}, 90]
    assert numbers["columns"][1] == {"key": "Расход", "title": "Расход", "unit": "Гкал", "kind": "number"}

    # defaults: this month and today by the service's clock (the test data's 2026-01-14), "mean", no flag
    answer = await c.get(f"/api/v1/reports/all_kinds?building={a['building']}", headers=headers)
    assert answer.status_code == 200, answer.text
    parameters = answer.json()["parameters"]
    assert (parameters["resource"], parameters["choice"], parameters["flag"], parameters["premise"]) == (
        "heat", "mean", False, None)
    assert parameters["month"][:8] == parameters["day"][:8]  # the day falls in the month


BAD = [
    ("building={b}&bogus=1", "bogus"),  # a misspelt name never falls back to a default
    ("", "building"),  # required
    ("building=abc", "building"),
    ("building=%C2%B2", "building"),  # "²": a digit to str.isdigit, a 500 from int() before the fix
    ("building={b}&month=2026-13", "month"),
    ("building={b}&month=9999-01", "month"),
    ("building={b}&day=2026-02-30", "day"),
    ("building={b}&resource=steam", "resource"),
    ("building={b}&choice=max", "choice"),
    ("building={b}&flag=maybe", "flag"),
    ("building={b}&text=" + "я" * 301, "text"),
    ("building={b}&month=2026-01&day=2025-12-31", "day"),  # the report's own check
    ("building={b}&building={b}", "building"),  # given twice
]


async def test_a_bad_parameter_is_a_422_naming_it(api: World) -> None:
    for query, named in BAD:
        url = "/api/v1/reports/all_kinds?" + query.format(b=api.a["building"])
        for suffix in ("", "/xlsx"):
            answer = await api.client.get(url.replace("?", suffix + "?", 1), headers=_auth(api.tokens["disp"]))
            assert answer.status_code == 422, answer.text
            assert answer.json()["code"] == "invalid_input"
            assert answer.json()["message"].startswith(f"{named}:"), answer.json()


async def test_another_company_and_an_administrator_get_not_found(api: World) -> None:
    c, headers = api.client, _auth(api.tokens["disp"])
    for url in (f"/api/v1/reports/all_kinds?building={api.b['building']}",
                f"/api/v1/reports/all_kinds/xlsx?building={api.b['building']}",
                f"/api/v1/reports/all_kinds?building={api.a['building']}&premise={api.b['premise']}",
                f"/api/v1/reports/all_kinds?building={api.a['building']}&meter={api.b['meter']}",
                "/api/v1/reports/no_such_report", "/api/v1/reports/no_such_report/xlsx"):
        answer = await c.get(url, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), url
    own = f"/api/v1/reports/all_kinds?building={api.a['building']}"
    assert (await c.get(own, headers=_auth(api.tokens["stranger"]))).status_code == 404
    for url in (own, own.replace("?", "/xlsx?"), "/api/v1/report-jobs"):
        assert (await c.get(url, headers=_auth(api.tokens["admin"]))).status_code == 404, url
        assert (await c.get(url)).status_code == 401, url
    started = await c.post("/api/v1/report-jobs", headers=_auth(api.tokens["admin"]),
                           json={"report": "all_kinds", "parameters": {"building": api.a["building"]}})
    assert started.status_code == 404


async def test_the_file_opens_with_numbers_as_numbers(api: World) -> None:
    url = f"/api/v1/reports/all_kinds/xlsx?building={api.a['building']}&month=2025-12&day=2025-12-05"
    answer = await api.client.get(url, headers=_auth(api.tokens["reader"]))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="all_kinds_{api.a["building"]}_2025-12-01.xlsx"')
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Параметры", "Числа"]
    sheet = book["Числа"]
    # row 1 the heading, 2 empty, 3 the header with the unit, 4.. the rows, then the totals
    assert sheet["A1"].value == "Числа для проверки"
    assert [c.value for c in sheet[3]] == ["Квартира", "Расход, Гкал", "Дней"]
    assert [c.value for c in sheet[4]] == ["1", 1.25, 31]
    assert sheet["B4"].number_format == "0.000"
    assert sheet["B5"].value == "–*"  # missing: marked, not filled in
    assert (sheet["B6"].value, sheet["B6"].number_format) == (0.5, '0.000"*"')  # partial: a number with a star
    assert [c.value for c in sheet[7]] == ["Итого", 1.75, 90]
    assert sheet["A7"].font.bold


async def _job(api: World, login: str, report: str, **parameters: object) -> httpx.Response:
    return await api.client.post("/api/v1/report-jobs", headers=_auth(api.tokens[login]),
                                 json={"report": report, "parameters": parameters})


async def test_a_job_from_start_to_file(api: World) -> None:
    c, headers, gate = api.client, _auth(api.tokens["disp"]), support.GATE
    started = await _job(api, "disp", "slow")
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["report"], job["title"], job["state"]) == ("slow", "Медленный отчёт", "running")
    await gate.reached.wait()
    running = (await c.get(f"/api/v1/report-jobs/{job['id']}", headers=headers)).json()
    # the builder's stage 1 of 2 is half of the building part, 0.9 of the bar
    assert (running["state"], running["progress"], running["stage"]) == ("running", 0.45, "обработано объектов: 1 из 2")
    waiting = await c.get(f"/api/v1/report-jobs/{job['id']}/file", headers=headers)
    assert waiting.status_code == 404  # no file until done
    assert (await c.get(f"/api/v1/report-jobs/{job['id']}", headers=_auth(api.tokens["reader"]))).status_code == 404

    gate.open.set()
    await api.services.reports.wait(api.tokens["disp"], job["id"])
    done = (await c.get(f"/api/v1/report-jobs/{job['id']}", headers=headers)).json()
    assert (done["state"], done["progress"], done["stage"], done["file_name"], done["rows"]) == (
        "done", 1.0, "готово", "slow.xlsx", 2)
    assert done["finished_at"] is not None
    assert done["error"] is None
    answer = await c.get(f"/api/v1/report-jobs/{job['id']}/file", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    assert 'filename="slow.xlsx"' in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert [c.value for c in book["Лист"]["A"]] == ["Объект", "один", "два"]
    assert [j["id"] for j in (await c.get("/api/v1/report-jobs", headers=headers)).json()] == [job["id"]]
    assert (await c.get("/api/v1/report-jobs", headers=_auth(api.tokens["reader"]))).json() == []
    assert (await c.get("/api/v1/report-jobs/no-such-job", headers=headers)).status_code == 404


async def test_jobs_take_json_values_and_refuse_bad_ones(api: World) -> None:
    c, token = api.client, api.tokens["disp"]
    # an id as a number and a flag as a boolean, as a JSON client sends them
    started = await _job(api, "disp", "all_kinds", building=api.a["building"], flag=True, month="2025-12",
                         day="2025-12-31")
    assert started.status_code == 202, started.text
    done = await api.services.reports.wait(token, started.json()["id"])
    assert (done.state, done.file_name) == ("done", f"all_kinds_{api.a['building']}_2025-12-01.xlsx")
    refused = await _job(api, "disp", "all_kinds", building=api.a["building"], month="2025-13")
    assert (refused.status_code, refused.json()["message"][:6]) == (422, "month:")
    refused = await _job(api, "disp", "all_kinds", building=api.a["building"], wrong=1)
    assert (refused.status_code, refused.json()["message"][:6]) == (422, "wrong:")
    assert (await _job(api, "disp", "no_such_report")).status_code == 404
    # another company's building: checked by the report as it reads, so the job ends failed, not found
    other = await _job(api, "disp", "all_kinds", building=api.b["building"])
    assert other.status_code == 202
    failed = await api.services.reports.wait(token, other.json()["id"])
    assert failed.state == "failed"
    assert "not found" in (failed.error or "")
    assert (await c.get(f"/api/v1/report-jobs/{failed.id}/file", headers=_auth(token))).status_code == 404


async def test_a_failing_report_ends_failed_with_its_reason(api: World) -> None:
    token = api.tokens["disp"]
    refused = await api.services.reports.wait(token, (await _job(api, "disp", "failing")).json()["id"])
    assert (refused.state, refused.stage) == ("failed", "ошибка")
    assert refused.error == "meter 999 has no archive for the month"
    broken = await api.services.reports.wait(token, (await _job(api, "disp", "failing", how="bug")).json()["id"])
    assert broken.state == "failed"
    assert broken.error == "the report could not be made (RuntimeError); see the server log"  # no trace to the caller
    listed = (await api.client.get("/api/v1/report-jobs", headers=_auth(token))).json()
    assert [j["state"] for j in listed] == ["failed", "failed"]


async def test_a_fourth_running_job_is_429(api: World) -> None:
    token, reader = api.tokens["disp"], api.tokens["reader"]
    jobs = [(await _job(api, "disp", "slow")).json()["id"] for _ in range(3)]
    fourth = await _job(api, "disp", "slow")
    assert (fourth.status_code, fourth.json()["code"]) == (429, "too_many_jobs")
    theirs = await _job(api, "reader", "slow")
    assert theirs.status_code == 202  # the limit is per user
    support.GATE.open.set()
    for job in jobs:
        assert (await api.services.reports.wait(token, job)).state == "done"
    assert (await api.services.reports.wait(reader, theirs.json()["id"])).state == "done"
    again = await _job(api, "disp", "slow")
    assert again.status_code == 202  # one finished: room again
    assert (await api.services.reports.wait(token, again.json()["id"])).state == "done"


async def test_a_big_report_is_written_whole(api: World) -> None:
    token = api.tokens["disp"]
    started = await _job(api, "disp", "big")
    done = await api.services.reports.wait(token, started.json()["id"])
    assert (done.state, done.rows) == ("done", support.BIG_ROWS)
    answer = await api.client.get(f"/api/v1/report-jobs/{done.id}/file", headers=_auth(token))
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    rows = list(book["Строки"].iter_rows(values_only=True))
    assert len(rows) == support.BIG_ROWS + 1  # the header and every row
    assert rows[0] == ("№", "Помещение", "Показание, м³")
    assert rows[1] == (1, "кв. 1", 0.25)
    assert rows[1000] == (1000, "кв. 1000", "–*")
    assert rows[-1] == (support.BIG_ROWS, f"кв. {support.BIG_ROWS}", "–*")
