"""E-mail about new events to their subscribers (manual 4.6.13), through an SMTP server.

A background job of the cloud process (domuchet/cloud_process.py, only when [cloud] smtp_host is
set). Each pass reads the ``device_events`` rows ingested since the last pass, classifies them
like the journal does (protocol/event_classes.py), and sends one e-mail per event and matching
subscription: same company as the subscriber, the meter's type, the effect and the kind each one
of the subscription's, ingested after the subscription was made. A sent e-mail is recorded in
the registry's ``event_notifications`` (subscription, company:site:epoch:id), which prevents a
repeat, also after a restart (a fresh process looks back LOOKBACK). An SMTP failure is logged
with its reason and the same events are taken again on the next pass; nothing is marked sent
that was not accepted by the server. A crash between the server's acceptance and the record
could repeat that one e-mail: never lose one. smtplib runs in a worker thread.
Tests: tests/integration/test_event_mail.py (a real aiosmtpd server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import event_classes as ec
from protocol.periods import utc_to_local, zone

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)  # what a freshly started notifier looks at (events ingested since)
OVERLAP = timedelta(seconds=30)  # an insert that began before a pass may commit with an earlier ingested_at
MAX_ROWS = 100_000  # events one pass reads (more: the rest on the next pass)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "domuchet@localhost"  # the From address
    user: str = ""  # log in when set
    password: str = ""
    starttls: bool = False
    timeout_s: float = 30.0

    def __repr__(self) -> str:  # the password never reaches a log line
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r}, user={self.user!r}, "
                f"starttls={self.starttls})")


@dataclass(frozen=True, slots=True)
class Mail:
    subscription_id: int
    event_key: str
    to: str
    message: EmailMessage


@dataclass(frozen=True, slots=True)
class PassResult:
    sent: int
    failed: int


_EVENTS = """
SELECT company, site, epoch, id, meter, at, code, severity, source, detail, ingested_at
FROM {db}.device_events FINAL
WHERE company IN {companies:Array(UInt32)} AND meter != '' AND ingested_at > {since:DateTime64(3)}
  AND ingested_at <= {upto:DateTime64(3)}
ORDER BY ingested_at, company, site, epoch, id
LIMIT {limit:UInt32}
"""
_SUBSCRIPTIONS = """
SELECT s.id, s.meter_roles, s.effects, s.severities, s.email, s.created_at, u.company_id, u.login
FROM event_subscriptions s JOIN users u ON u.id = s.user_id
WHERE u.blocked = 0 AND u.role IN ('dispatcher', 'engineer')
"""
_METERS = """
SELECT m.company_id, m.serial, m.role, p.number AS premise, b.address, b.time_zone
FROM meters m JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id
"""


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def compose(sender: str, to: str, event: dict[str, Any], meter: dict[str, Any]) -> EmailMessage:
    """The e-mail about one event, in Russian: what happened, where, when (the building's time)."""
    kind = ec.classify(event["code"], event["detail"])
    severity = ec.EventSeverity(event["severity"])
    meter_type = ec.MeterType(meter["role"])
    local = utc_to_local(event["at"], zone(meter["time_zone"]))
    where = meter["address"] + (f", кв. {meter['premise']}" if meter["premise"] else "")
    message = EmailMessage()
    message["Subject"] = (f"ДомУчёт: {ec.SEVERITY_TEXT[severity][0]} — {kind.description_ru}, "
                          f"{ec.METER_TYPE_TEXT[meter_type][0]} {event['meter']}")
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Domuchet-Event"] = event["key"]
    lines = [
        f"Событие прибора учёта {event['meter']} ({ec.METER_TYPE_TEXT[meter_type][0]})",
        f"Адрес: {where}",
        f"Время: {local:%d.%m.%Y %H:%M:%S} (время объекта, {meter['time_zone']})",
        f"Воздействие: {ec.EFFECT_TEXT[kind.effect][0]}",
        f"Вид: {ec.SEVERITY_TEXT[severity][0]}",
        f"Описание: {kind.description_ru}",
    ]
    shown = {k: v for k, v in event["detail"].items() if k not in ("event_code",)}
    if shown:
        lines.append("Подробности: " + ", ".join(f"{k}: {v}" for k, v in sorted(shown.items())))
    lines += ["", "Вы получили это письмо, потому что подписаны на события в ДомУчёте "
              "(Настройки → Подписка на события)."]
    message.set_content("\n".join(lines))
    return message


def send(smtp: SmtpSettings, mails: Sequence[tuple[str, EmailMessage]]) -> list[str | None]:
    """Send (recipient, message) pairs over one SMTP connection (blocking: run it in a worker thread);
    per e-mail None when the server accepted it, else the reason. Event e-mails and owner invitations
    (cloud/services/objects.py) both go out through here."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            out: list[str | None] = []
            for to, message in mails:
                try:
                    refused = client.send_message(message, from_addr=smtp.sender, to_addrs=[to])
                except smtplib.SMTPRecipientsRefused as exc:
                    out.append(f"recipient refused: {exc.recipients}")
                except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    out.append(f"{type(exc).__name__}: {exc}")
                else:
                    out.append(f"recipient refused: {refused}" if refused else None)
            return out
    except (OSError, smtplib.SMTPException) as exc:  # connection, TLS, login: every e-mail gets the reason
        reason = f"{type(exc).__name__}: {exc}"
        return [reason] * len(mails)


class EventNotifier:
    """Runs ``scan`` every ``interval_s`` seconds; each pass starts where the last one ended, or at
    the oldest event whose e-mail failed."""

    def __init__(self, registry: Registry, clickhouse: ClickHouse, smtp: SmtpSettings,
                 interval_s: float = 30.0) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.smtp = smtp
        self.interval_s = interval_s
        self._since: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("event=event_mail_started smtp=%s:%d", self.smtp.host, self.smtp.port)
        while not stop.is_set():
            await self.scan()
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except TimeoutError:
                pass

    async def scan(self) -> PassResult:
        """One pass: e-mail every matching event ingested since the last pass that was not sent yet."""
        upto = datetime.now(UTC)
        since = self._since or upto - LOOKBACK
        subscriptions = await asyncio.to_thread(self.registry.all, _SUBSCRIPTIONS)
        if not subscriptions:
            self._since = upto - OVERLAP
            return PassResult(0, 0)
        companies = sorted({s["company_id"] for s in subscriptions})
        rows = await self.ch.query(_EVENTS, {"companies": companies, "since": since,
                                             "upto": upto, "limit": MAX_ROWS})
        if len(rows) == MAX_ROWS:  # the rest on the next pass, from the last one read
            last = _aware(rows[-1][-1])
            if any(_aware(r[-1]) < last for r in rows):
                upto = last
                rows = [r for r in rows if _aware(r[-1]) < upto]
        mails, firsts = await asyncio.to_thread(self._mails, subscriptions, rows, since)
        failed_at: list[datetime] = []
        sent = 0
        if mails:
            outcome = await asyncio.to_thread(self._deliver, mails)
            done = []
            for mail, error in zip(mails, outcome, strict=True):
                if error is None:
                    done.append(mail)
                    log.info("event=event_mail_sent subscription=%d event=%s to=%s", mail.subscription_id,
                             mail.event_key, mail.to)
                else:
                    failed_at.append(firsts[mail.event_key])
                    log.warning("event=event_mail_failed subscription=%d event=%s to=%s reason=%r retry=next_pass",
                                mail.subscription_id, mail.event_key, mail.to, error)
            if done:
                await asyncio.to_thread(self._record, done)
            sent = len(done)
        # the next pass looks a little back (dedup by event_notifications), or from the first failure
        self._since = min([upto - OVERLAP, *(at - timedelta(milliseconds=1) for at in failed_at)])
        return PassResult(sent, len(failed_at))

    def _mails(self, subscriptions: list[Any], rows: list[tuple], since: datetime
               ) -> tuple[list[Mail], dict[str, datetime]]:
        """The e-mails the events call for that were not sent before; with each event's ingestion time.
        An e-mail is sent after its event was ingested, so those sent before ``since`` are of no event read."""
        if not rows:
            return [], {}
        meters: dict[tuple[int, str], dict[str, Any]] = {}
        serials = sorted({row[4] for row in rows})
        for start in range(0, len(serials), 500):  # the meters of these events only, under SQLite's variable limit
            chunk = serials[start:start + 500]
            for r in self.registry.all(_METERS + f" WHERE m.serial IN ({','.join('?' * len(chunk))})",
                                       *chunk):
                meters[(r["company_id"], r["serial"])] = dict(r)
        by_company: dict[int, list[Any]] = defaultdict(list)
        for s in subscriptions:
            by_company[s["company_id"]].append(s)
        sent = {(r["subscription_id"], r["event_key"]) for r in self.registry.all(
            "SELECT subscription_id, event_key FROM event_notifications WHERE sent_at >= ?", since.isoformat())}
        mails: list[Mail] = []
        firsts: dict[str, datetime] = {}
        for company, site, epoch, ident, serial, at, code, severity, _source, detail, ingested in rows:
            meter = meters.get((company, serial))
            if meter is None:
                continue  # a serial the registry does not know: no meter type to match
            try:
                doc = json.loads(detail or "{}")
            except ValueError:
                doc = {"text": detail}
            doc = doc if isinstance(doc, dict) else {"value": doc}
            event = {"key": f"{company}:{site}:{epoch}:{ident}", "meter": serial, "at": _aware(at), "code": code,
                     "severity": str(severity), "detail": doc}
            effect = ec.classify(code, doc).effect.value
            for s in by_company.get(company, ()):
                if (s["id"], event["key"]) in sent or _aware(ingested) < datetime.fromisoformat(s["created_at"]):
                    continue
                if not ec.matches(meter["role"], effect, event["severity"],
                                  meter_types=frozenset(s["meter_roles"].split(",")),
                                  effects=frozenset(s["effects"].split(",")),
                                  severities=frozenset(s["severities"].split(","))):
                    continue
                mails.append(Mail(s["id"], event["key"], s["email"], compose(self.smtp.sender, s["email"], event,
                                                                             meter)))
                firsts.setdefault(event["key"], _aware(ingested))
        return mails, firsts

    def _deliver(self, mails: list[Mail]) -> list[str | None]:
        """Send over one SMTP connection; per e-mail None when the server accepted it, else the reason."""
        return send(self.smtp, [(mail.to, mail.message) for mail in mails])

    def _record(self, mails: list[Mail]) -> None:
        now = datetime.now(UTC).isoformat()
        with self.registry.connect() as db:
            # a subscription deleted meanwhile takes its record with it (not a foreign-key failure)
            db.executemany("INSERT OR IGNORE INTO event_notifications (subscription_id, event_key, sent_at) "
                           "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM event_subscriptions WHERE id = ?)",
                           [(m.subscription_id, m.event_key, now, m.subscription_id) for m in mails])
