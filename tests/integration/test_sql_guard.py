"""The read-only SQL path (`domuchet sql`, /api/local/sql; cloud/storage/sql_guard.py) on a real
chDB and nats-server: statements that write, read files or reach other servers are refused by
ClickHouse's parser with a one-line reason, a query stops at its time, memory and row limits,
and none of it stops the ingest (a refused `/**/INSERT` used to leave the ingest's connection
read-only, and every later insert failed with READONLY until the cloud restarted)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud.api import router
from cloud.ingest import Ingest
from cloud.storage import sql_guard
from cloud.storage.clickhouse import ClickHouse, QueryError, ReadOnlyViolation
from protocol import subjects
from protocol.wire import encode_batch
from tests.chaos.edge_support import streams_ready
from tests.integration.test_cloud_ingest import _batch, _count, _publish, _until, _watermark


def _refused(db: str, outfile: Path) -> list[tuple[str, str]]:
    """(statement, the reason it must be refused with) for every statement of the findings."""
    only_select = "only SELECT is allowed, not"
    return [
        (f"/**/INSERT INTO {db}.dead_letter (id) VALUES ('x')", f"{only_select} INSERT"),  # noqa: S608
        ("/**/KILL QUERY WHERE 1", f"{only_select} KILL"),
        ("KILL QUERY WHERE 1", f"{only_select} KILL"),
        (f"/**/DROP TABLE {db}.dead_letter", f"{only_select} DROP"),
        (f"/* x */ ALTER TABLE {db}.archive DELETE WHERE 1", f"{only_select} ALTER"),
        ("/**/SET readonly = 0", f"{only_select} SET"),
        (f"SELECT 'x' INTO OUTFILE '{outfile}' TRUNCATE", "INTO OUTFILE and FORMAT are not allowed"),
        ("SELECT file('/etc/passwd')", "function file() is not allowed here"),
        ("WITH file('/etc/passwd') AS f SELECT f", "function file() is not allowed here"),
        ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table function file() is not allowed here"),
        ("SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')", "table function url() is not allowed here"),
        ("SELECT * FROM view(SELECT file('/etc/passwd'))", "function file() is not allowed here"),
        ("SELECT * FROM remote('127.0.0.1', system.one)", "table function remote() is not allowed here"),
        ("SELECT * FROM executable('id', 'TSV', 'a String')", "table function executable() is not allowed here"),
        ("SELECT * FROM format(TSV, 'a')", "table function format() is not allowed here"),
        ("SELECT 1 SETTINGS readonly = 0", "a SETTINGS clause is not allowed"),
        ("SELECT 1 SETTINGS max_execution_time = 100000", "a SETTINGS clause is not allowed"),
        (f"SELECT 1; DROP TABLE {db}.dead_letter", "only one statement is allowed"),
        ("SELECT 1 FORMAT JSON", "INTO OUTFILE and FORMAT are not allowed"),
    ]


def _run(clickhouse: ClickHouse, sql: str) -> tuple[list[str], list[tuple]]:
    return clickhouse._pool.submit(clickhouse.read_only_sync, sql).result()


def test_every_refused_statement_says_why_and_changes_nothing(clickhouse: ClickHouse, tmp_path: Path) -> None:
    outfile = tmp_path / "kept.txt"
    outfile.write_text("kept\n")
    for sql, reason in _refused(clickhouse.database, outfile):
        with pytest.raises(ReadOnlyViolation) as refused:
            _run(clickhouse, sql)
        message = str(refused.value)
        assert reason in message, sql
        assert "\n" not in message
    assert outfile.read_text() == "kept\n"  # INTO OUTFILE ... TRUNCATE used to overwrite it with 'x'
    assert clickhouse.query_sync("SELECT count() FROM {db}.dead_letter") == [(0,)]
    # the ingest's connection was never switched to read-only
    assert clickhouse.query_sync("SELECT getSetting('readonly')") == [(0,)]
    clickhouse.insert_sync("dead_letter", [("after",)], ["id"])
    assert clickhouse.query_sync("SELECT count() FROM {db}.dead_letter") == [(1,)]


def test_a_syntax_error_is_refused_with_the_parsers_message(clickhouse: ClickHouse) -> None:
    with pytest.raises(QueryError, match=r"^Code: 62\. DB::Exception: Syntax error") as refused:
        _run(clickhouse, "SELEC 1")
    assert "formatQuerySingleLine" not in str(refused.value)  # the guard's wrapping is not shown
    with pytest.raises(ReadOnlyViolation, match="the statement is empty"):
        _run(clickhouse, "  -- nothing\n")


def test_plain_selects_still_answer(clickhouse: ClickHouse) -> None:
    assert _run(clickhouse, "SELECT count() FROM {db}.archive".replace("{db}", clickhouse.database)) == (
        ["count()"], [(0,)])
    # comments, a string holding ';' and a trailing ';' are the parser's business, not refusals
    assert _run(clickhouse, "/* c */ SELECT 'a;b' AS s, number FROM numbers(2) -- tail\n;") == (
        ["s", "number"], [("a;b", 0), ("a;b", 1)])


def test_a_long_query_stops_at_the_time_limit(clickhouse: ClickHouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_guard, "TIME_LIMIT_S", 1)
    started = time.monotonic()
    # 10^12 rows: about a quarter of an hour at a billion rows a second, without a limit
    with pytest.raises(QueryError, match=r"^stopped: the query ran longer than the read-only limit of 1 s$"):
        _run(clickhouse, "SELECT count() FROM numbers(1000000000000)")
    assert time.monotonic() - started < 5


def test_memory_and_result_rows_are_limited(clickhouse: ClickHouse, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QueryError, match=r"^stopped: the result has more than 100000 rows; add a LIMIT or aggregate$"):
        _run(clickhouse, "SELECT number FROM numbers(100001)")
    assert len(_run(clickhouse, "SELECT number FROM numbers(100000)")[1]) == 100_000
    monkeypatch.setattr(sql_guard, "MEMORY_LIMIT_BYTES", 64 << 20)
    # 2 million strings of 1000 bytes in one array: about 2 GB, far over 64 MiB
    with pytest.raises(QueryError, match=r"^stopped: the query needed more than the read-only limit of 64 MiB$"):
        _run(clickhouse, "SELECT length(groupArray(repeat('x', 1000))) FROM numbers(2000000)")


async def test_the_local_sql_endpoint_refuses_with_the_reason(clickhouse: ClickHouse, tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(router(clickhouse, "local-secret"))
    headers = {"X-Local-Token": "local-secret"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.post("/api/local/sql", json={"sql": "SELECT file('/etc/passwd')"}, headers=headers)
        assert answer.status_code == 400
        assert answer.json() == {"code": "read_only", "message": "function file() is not allowed here: it reaches "
                                                                  "files, URLs, dictionaries or other servers"}
        answer = await client.post("/api/local/sql", json={"sql": "SELECT 40 + 2"}, headers=headers)
        assert answer.json() == {"columns": ["plus(40, 2)"], "rows": [[42]]}


async def test_refused_statements_while_the_ingest_stores_never_stop_it(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    ingest = Ingest(nats.url, clickhouse)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    subject = subjects.archive_subject("ro")
    n = 30  # batches of 1 meter x 2 hours: 60 archive values

    async def publish_slowly() -> None:
        for seq in range(1, n + 1):
            batch = _batch("ro", seq, ("M1",))
            await _publish(nats.url, [(subject, encode_batch(batch), batch.msg_id)])
            await asyncio.sleep(0.02)

    try:
        await _until(lambda: streams_ready(nats.url), "streams created by the ingest")
        publisher = asyncio.create_task(publish_slowly())
        refused = _refused(clickhouse.database, tmp_path / "out.txt")
        answers = []
        for sql, _reason in refused:  # the reasons are checked below, after the ingest's fate
            try:
                await clickhouse.read_only(sql)
                answers.append("ran")
            except (ReadOnlyViolation, QueryError) as exc:
                answers.append(f"{type(exc).__name__}: {exc}")
        await publisher
        await _until(lambda: _watermark(nats.url, "ro", n), f"stored watermark at batch {n}", timeout=15)
        # one more batch after every refusal: stored, so inserts still work
        last = _batch("ro", n + 1, ("M1",))
        await _publish(nats.url, [(subject, encode_batch(last), last.msg_id)])
        await _until(lambda: _watermark(nats.url, "ro", n + 1), "the batch after the refusals", timeout=15)
    finally:
        stop.set()
        await task
    assert ingest.stored == n + 1
    for (sql, reason), answer in zip(refused, answers, strict=True):
        assert answer.startswith("ReadOnlyViolation: "), sql
        assert reason in answer, sql
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE site = 'ro'") == (n + 1) * 2
    assert await _count(clickhouse, "SELECT count() FROM {db}.dead_letter") == 0
    assert not (tmp_path / "out.txt").exists()
