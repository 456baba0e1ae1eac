"""What data the company has, for the map of navigation (manual 2.3: "в зависимости от назначенной Роли
и наличия данных ... автоматически формируется карта доступной навигации") and the start page (3.3:
it differs when the company has no buildings or no commissioned meters).

The facts are counts, read in one query of the registry on every page build (a few indexed counts);
they say what exists, never what a role may do: that is ui/access.py on the page side and the
services' own checks on the server. Any signed-in user of the company may read them.
Tests: tests/integration/test_navigation_facts.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.services.auth import AuthService
from cloud.services.models import UserInfo
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource


@dataclass(frozen=True, slots=True)
class NavFacts:
    buildings: int
    premises: int
    meters: int  # registered and not decommissioned now
    in_service: int  # of them, commissioned (in service) now
    resources: frozenset[Resource]  # what the meters not decommissioned measure
    lora: bool  # some meter or communicator talks LoRaWAN

    @property
    def empty(self) -> bool:
        """No buildings: the start page guides the first steps (manual 3.6)."""
        return self.buildings == 0


# lifecycle moments are ISO 8601 with an offset: julianday() makes them instants to compare with :now
# (a Julian day). A row with neither date keeps its stored status (models.meter_status).
_SQL = """
SELECT
  (SELECT count(*) FROM buildings WHERE company_id = :co) AS buildings,
  (SELECT count(*) FROM premises p JOIN buildings b ON b.id = p.building_id WHERE b.company_id = :co) AS premises,
  (SELECT count(*) FROM meters WHERE company_id = :co
     AND COALESCE(julianday(decommissioned_at) > :now, status != 'decommissioned')) AS meters,
  (SELECT count(*) FROM meters WHERE company_id = :co
     AND COALESCE(julianday(decommissioned_at) > :now, 1) AND COALESCE(julianday(commissioned_at) <= :now, 1)
     AND (commissioned_at IS NOT NULL OR decommissioned_at IS NOT NULL OR status = 'in_service')) AS in_service,
  (SELECT group_concat(DISTINCT c.resource) FROM meter_channels c JOIN meters m ON m.id = c.meter_id
     WHERE m.company_id = :co AND COALESCE(julianday(m.decommissioned_at) > :now, m.status != 'decommissioned'))
     AS resources,
  EXISTS (SELECT 1 FROM communicators WHERE company_id = :co AND kind = 'lora')
     OR EXISTS (SELECT 1 FROM meters WHERE company_id = :co AND communicator LIKE 'LoRaWAN%') AS lora
"""


class NavigationService:
    def __init__(self, registry: Registry, auth: AuthService,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = registry
        self.auth = auth
        self.clock = clock

    async def facts(self, token: str) -> NavFacts:
        user = await self.auth.user(token)
        return await asyncio.to_thread(self.facts_of, user)

    def facts_of(self, user: UserInfo) -> NavFacts:
        now = self.clock().timestamp() / 86400 + 2440587.5  # the Julian day julianday() gives
        with self.registry.reading() as db:
            row = db.execute(_SQL, {"co": user.company_id, "now": now}).fetchone()
        found = set((row["resources"] or "").split(","))
        return NavFacts(row["buildings"], row["premises"], row["meters"], row["in_service"],
                        frozenset(r for r in Resource if r.value in found), bool(row["lora"]))
