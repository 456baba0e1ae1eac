"""E-mail about events (manual 4.6.13) through a real SMTP server (aiosmtpd on a free port):
one e-mail per matching new event and subscription, none for a non-matching subscription or
another company's event, never a repeat (also after a restart), and an SMTP outage logged with
its reason and made good on the next pass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from cloud.notifier import EventNotifier, SmtpSettings
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_events
from tests.conftest import free_port

ALL = (["individual", "common"], ["integrity", "interference", "limit", "other"], ["info", "warning", "alarm"])


class Inbox:
    """aiosmtpd's handler: every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


def _serve(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    controller, box = _serve(smtp_port)
    yield box
    controller.stop()


@dataclass
class World:
    services: Services
    registry: Registry
    clickhouse: ClickHouse
    seeded: cloud_data.Seeded
    tokens: dict[str, str]

    def notifier(self, port: int) -> EventNotifier:
        return EventNotifier(self.registry, self.clickhouse, SmtpSettings("127.0.0.1", port, "noreply@domuchet.test",
                                                                          timeout_s=5.0), interval_s=0.1)


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    """The seeded building and the other company, no events yet; the services keep the real clock:
    a subscription's creation is compared with the real ingestion time of events."""
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),))
    services = Services.create(registry, clickhouse)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "eng", "stranger")}
    return World(services, registry, clickhouse, seeded, tokens)


def _sent(registry: Registry) -> int:
    return registry.one("SELECT count(*) FROM event_notifications")[0]


async def test_one_mail_per_matching_event_and_subscription(world: World, inbox: Inbox, smtp_port: int) -> None:
    svc = world.services.events
    # disp: tampering (integrity alarm) on apartment meters; and building meters' limit infos (none happen)
    await svc.create_subscription(world.tokens["disp"], ["individual"], ["integrity"], ["alarm"], "a@example.ru")
    await svc.create_subscription(world.tokens["disp"], ["common"], ["limit"], ["info"], "b@example.ru")
    await svc.create_subscription(world.tokens["eng"], *ALL, "c@example.ru")  # everything of its company
    await svc.create_subscription(world.tokens["stranger"], *ALL, "d@example.ru")  # the other company's
    support_events.seed_events(world.registry, world.clickhouse, world.seeded)
    notifier = world.notifier(smtp_port)

    result = await notifier.scan()
    # a: the tampering only; b: nothing matches; c: the five meter events of the building (the edge's own
    # event has no meter); d: the other company's tampering, and nothing of the first company
    assert (result.sent, result.failed) == (7, 0)
    tamper = inbox.to("a@example.ru")
    assert len(tamper) == 1
    assert inbox.to("b@example.ru") == []
    assert tamper[0]["Subject"] == "ДомУчёт: Аварийный случай — Вскрытие корпуса, ИПУ 223T0001"
    assert tamper[0]["From"] == "noreply@domuchet.test"
    body = tamper[0].get_content()
    assert "Адрес: ул. Тестовая, 1, кв. 1" in body
    assert "Время: 11.01.2026 10:00:00 (время объекта, Europe/Moscow)" in body  # 07:00 UTC
    assert "Воздействие: Нарушение целостности ПУ" in body
    assert sorted(m["Subject"] for m in inbox.to("c@example.ru")) == sorted([
        "ДомУчёт: Информационное — Часы прибора скорректированы, ОДПУ 307T0001",
        "ДомУчёт: Предупреждение — Магнит у датчика, ОДПУ 307T0001",
        "ДомУчёт: Аварийный случай — Вскрытие корпуса, ИПУ 223T0001",
        "ДомУчёт: Предупреждение — Утечка: непрерывный расход в течение нескольких часов, ИПУ 223T0002",
        "ДомУчёт: Информационное — Выполнение иного контролируемого события (код 0x0499), ИПУ 223T0001"])
    foreign = inbox.to("d@example.ru")
    assert [m["Subject"] for m in foreign] == ["ДомУчёт: Аварийный случай — Вскрытие корпуса, ОДПУ 307X0001"]
    assert all("307X0001" not in m["Subject"] for m in inbox.to("c@example.ru") + tamper)
    assert _sent(world.registry) == 7

    # a second pass, and a restarted notifier looking back a week, send nothing again
    assert (await notifier.scan()).sent == 0
    assert (await world.notifier(smtp_port).scan()).sent == 0
    assert len(inbox.messages) == 7

    # a new event: only its subscribers hear of it, once; the suspect value the cloud finds is a
    # limit violation (warning) and goes to c only
    await support_events.add_suspect(world.registry, world.clickhouse, world.seeded.company_id)
    assert (await notifier.scan()).sent == 1
    assert inbox.messages[-1][0] == ["c@example.ru"]
    assert inbox.messages[-1][1]["Subject"] == ("ДомУчёт: Предупреждение — Недостоверное значение: приращение "
                                                "счётчика выше допустимого, ИПУ 223T0002")


async def test_events_before_the_subscription_are_not_sent(world: World, inbox: Inbox, smtp_port: int) -> None:
    support_events.seed_events(world.registry, world.clickhouse, world.seeded)
    await asyncio.sleep(0.01)
    await world.services.events.create_subscription(world.tokens["disp"], *ALL, "late@example.ru")
    assert (await world.notifier(smtp_port).scan()).sent == 0
    support_events.store(world.clickhouse, world.seeded.company_id, "test", (
        support_events.Ev(7, "223T0002", support_events.SUSPECT_LOCAL, "integrity", "alarm",
                          detail={"event_code": "0x0101"}),))
    assert (await world.notifier(smtp_port).scan()).sent == 1
    assert [rcpt for rcpt, _ in inbox.messages] == [["late@example.ru"]]


async def test_an_smtp_outage_is_logged_and_made_good(world: World, smtp_port: int,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    await world.services.events.create_subscription(world.tokens["disp"], ["individual"], ["integrity"], ["alarm"],
                                                    "a@example.ru")
    support_events.seed_events(world.registry, world.clickhouse, world.seeded)
    notifier = world.notifier(smtp_port)  # nothing listens there yet
    with caplog.at_level(logging.WARNING, logger="cloud.notifier"):
        result = await notifier.scan()
    assert (result.sent, result.failed) == (0, 1)
    assert _sent(world.registry) == 0  # nothing is marked sent that the server did not take
    failure = [r.getMessage() for r in caplog.records if "event_mail_failed" in r.getMessage()]
    assert len(failure) == 1
    assert "ConnectionRefusedError" in failure[0]
    assert "to=a@example.ru" in failure[0]
    assert "retry=next_pass" in failure[0]

    controller, inbox = _serve(smtp_port)
    try:
        assert (await notifier.scan()).sent == 1  # the next pass takes the failed event again
        assert [m["Subject"] for _, m in inbox.messages] == [
            "ДомУчёт: Аварийный случай — Вскрытие корпуса, ИПУ 223T0001"]
        assert (await notifier.scan()).sent == 0
    finally:
        controller.stop()


async def test_the_background_job_sends_and_stops(world: World, inbox: Inbox, smtp_port: int) -> None:
    await world.services.events.create_subscription(world.tokens["disp"], ["individual"], ["integrity"], ["alarm"],
                                                    "a@example.ru")
    support_events.seed_events(world.registry, world.clickhouse, world.seeded)
    stop = asyncio.Event()
    job = asyncio.create_task(world.notifier(smtp_port).run(stop))
    for _ in range(200):
        if inbox.messages:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a few more passes: still one e-mail
    stop.set()
    await asyncio.wait_for(job, 10)
    assert len(inbox.messages) == 1
