"""The demo's billing centre (manual 4.4.2): a simulated РИЦ (simulators/billing_centre.py) served in
the cloud's process, and its settings entry, so that the automatic export runs on the demo building.

The centre's book is made from the demo's own premises and meters with the deliberate mismatches of
``demo_book`` (one account it does not know, one serial and one resource it has otherwise, a device of
its own), and one device whose last reading keyed in at the centre is higher than the meter's: the
protocol then shows every case of 4.4.2. The centre is registered only once the history is complete
(before that the run would find no readings), with today as its submission day, so the scheduler
exports within a minute; a demo started again keeps the centre and its protocols.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from cloud.storage.registry import Registry
from simulators.billing_centre import BillingCentre, demo_book

log = logging.getLogger(__name__)
CENTRE_NAME = "РИЦ «Казань» (симулятор)"
TOKEN = "demo-ric-token"  # noqa: S105 - the demo simulator's, printed in docs/demo.md
HIGHER_AT_CENTRE = 999_999.0  # a reading keyed in at the centre that no demo meter reaches


def book_lines(registry: Registry, building_id: int) -> list[tuple[str, str, str]]:
    """(personal account, serial, resource) of every apartment meter channel of the building."""
    rows = registry.all("SELECT DISTINCT p.account, m.serial, c.resource FROM meters m "
                        "JOIN premises p ON p.id = m.premise_id JOIN meter_channels c ON c.meter_id = m.id "
                        "WHERE m.building_id = ? AND m.role = 'individual' AND p.account != '' "
                        "ORDER BY CAST(p.number AS INTEGER), c.resource", building_id)
    return [(r["account"], r["serial"], r["resource"]) for r in rows]


def book(lines: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The centre's accounts and devices: ``demo_book``'s mismatches, and the last device's reading at
    the centre higher than the meter's («показание меньше переданного ранее»). The lines go to it one
    account after another (each account's first line, then each one's second ...), so that the other
    serial and the other resource fall on two premises: the protocol then shows both cases."""
    by_account: dict[str, list[tuple[str, str, str]]] = {}
    for line in lines:
        by_account.setdefault(line[0], []).append(line)
    rounds = max((len(v) for v in by_account.values()), default=0)
    dealt = [v[i] for i in range(rounds) for v in by_account.values() if i < len(v)]
    made = demo_book(dealt, token=TOKEN)
    devices = [d for devices in made["accounts"].values() for d in devices if not d["serial"].startswith("EXTRA")]
    if devices:
        made["last"][devices[-1]["device_id"]] = {"T1": HIGHER_AT_CENTRE}
    return made


def register_centre(registry: Registry, building_id: int, url: str, today: date) -> bool:
    """The demo company's centre linked to the building, with today (at most the 28th) as its submission
    day; False when the company has one already (a demo started again, or a dispatcher's own)."""
    with registry.connect() as db:
        company = db.execute("SELECT company_id FROM buildings WHERE id = ?", (building_id,)).fetchone()[0]
        if db.execute("SELECT 1 FROM billing_centres WHERE company_id = ?", (company,)).fetchone():
            return False
        centre = db.execute("INSERT INTO billing_centres (company_id, name, connector, url, token, submission_day, "
                            "enabled) VALUES (?, ?, 'http-json', ?, ?, ?, 1)",
                            (company, CENTRE_NAME, url, TOKEN, min(today.day, 28))).lastrowid
        db.execute("INSERT INTO billing_centre_buildings (centre_id, building_id) VALUES (?, ?)", (centre, building_id))
    return True


async def serve(registry: Registry, building_id: int, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the simulated centre until ``stop``."""
    lines = await asyncio.to_thread(book_lines, registry, building_id)
    centre = BillingCentre(book(lines))
    try:
        await centre.start(host, port)
    except OSError as e:  # the demo goes on; the export's protocol will name the unreachable centre
        log.error("event=billing_centre_not_started port=%s error=%s (choose another with --billing-port)", port, e)
        return
    log.info("event=billing_centre_started url=http://%s:%s accounts=%d", host, centre.port, len(centre.accounts))
    try:
        await stop.wait()
    finally:
        await centre.close()
