"""The registry's tables of section «Сервис» and the settings of 4.6 built with it (migration 8), of
sections «Отчёты» and «Биллинг» (migration 9) and of the residents' app and the working company
(migration 10), one module per screen group; each module's DDL is plain SQL for SQLite, run in one
transaction."""

from __future__ import annotations

from . import billing, company, desk, gis, members, meters_service, norms, objects, power, procedures, residents, wizard

SERVICE_DDL = "\n".join(m.DDL for m in (procedures, meters_service, wizard, desk, power, objects, company))
BILLING_DDL = "\n".join(m.DDL for m in (gis, norms, billing))
RESIDENTS_DDL = residents.DDL + members.DDL
