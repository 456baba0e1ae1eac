"""Registry seeding: a company, its users, and buildings with premises and meters.

Used by `domuchet demo` (with the simulated building's plan) and by tests. Idempotent: a
building already registered (same company and address) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cloud.services.auth import hash_password
from cloud.services.meters_admin import configure
from cloud.services.residents import VALID_DAYS, new_code
from cloud.storage.registry import Registry
from protocol import catalogue


def channel_rows(model: str) -> tuple[tuple[int, str, str], ...]:
    """(channel number, resource, comma-separated parameters) of a model, from the device catalogue."""
    return tuple((c.number, c.resource.value, ",".join(c.parameters)) for c in catalogue.model(model).channels)


@dataclass(frozen=True, slots=True)
class UserSeed:
    login: str
    full_name: str
    role: str
    password: str
    reader: bool = False


DEMO_USERS = (
    UserSeed("dispatcher", "Диспетчер Демо", "dispatcher", "dispatcher-demo"),
    UserSeed("engineer", "Сервис-инженер Демо", "engineer", "engineer-demo"),
    UserSeed("admin", "Администратор Демо", "administrator", "admin-demo"),
    UserSeed("reader", "Читатель Демо", "dispatcher", "reader-demo", reader=True),
)


@dataclass(frozen=True, slots=True)
class PremiseSeed:
    number: str
    area_m2: float
    residents: int
    meter_serial: str
    meter_model: str
    communicator: str
    archives: str = "hour, integral"  # the archive kinds the meter gives ("hour, day, month, integral")


@dataclass(frozen=True, slots=True)
class DeviceSeed:
    """A meter besides the apartments' main ones: a 941LW electricity meter, a СВК water meter..."""
    premise_number: str  # "" for a building-level meter
    serial: str
    model: str
    communicator: str
    archives: str
    tariffs: int | None = None  # a 941LW's tariff zones (its channels follow them)
    phase: str | None = None  # a single-phase 941LW's phase
    ct_ratio: float = 1.0  # reading multiplier of a meter on current transformers


@dataclass(frozen=True, slots=True)
class BuildingSeed:
    site: str
    address: str
    city: str
    time_zone: str
    heat_meter_serial: str
    heat_meter_model: str
    heat_meter_communicator: str
    premises: tuple[PremiseSeed, ...]
    heat_meter_archives: str = "hour, integral"
    # the meters' service period begins here (ISO 8601 with its UTC offset; None: since their first
    # archive), and their monthly archives are read from this day of the next month
    commissioned_at: str | None = None
    reporting_day: int = 1
    devices: tuple[DeviceSeed, ...] = ()
    # premises' personal accounts are <PREFIX>-0001...; default: the site (several buildings of one
    # edge site need one each)
    account_prefix: str = ""


def seed_company(registry: Registry, name: str, city: str, users: tuple[UserSeed, ...],
                 login_prefix: str = "") -> int:
    """Create the company and its users if missing; returns the company id."""
    with registry.connect() as db:
        row = db.execute("SELECT id FROM companies WHERE name = ?", (name,)).fetchone()
        company_id = row[0] if row else db.execute("INSERT INTO companies (name, city) VALUES (?, ?)",
                                                   (name, city)).lastrowid
        for u in users:
            login = login_prefix + u.login
            if db.execute("SELECT 1 FROM users WHERE login = ?", (login,)).fetchone() is None:
                db.execute("INSERT INTO users (company_id, login, full_name, role, reader, password_hash) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (company_id, login, u.full_name, u.role, int(u.reader), hash_password(u.password)))
    return company_id


def seed_building(registry: Registry, company_id: int, b: BuildingSeed) -> int:
    """Register the building, its premises and meters unless it is registered already."""
    with registry.connect() as db:
        row = db.execute("SELECT id FROM buildings WHERE company_id = ? AND address = ?",
                         (company_id, b.address)).fetchone()
        if row is not None:
            return row[0]
        area = round(sum(p.area_m2 for p in b.premises), 1)
        residents = sum(p.residents for p in b.premises)
        building_id = db.execute(
            "INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (company_id, b.site, b.address, b.city, b.time_zone, area, residents),
        ).lastrowid
        _meter(db, company_id, building_id, None, b.heat_meter_serial, b.heat_meter_model, "common",
               b.heat_meter_communicator, b.heat_meter_archives, b)
        prefix = (b.account_prefix or b.site).upper()
        for p in b.premises:
            premise_id = db.execute(
                "INSERT INTO premises (building_id, number, kind, area_m2, residents, account) "
                "VALUES (?, ?, 'apartment', ?, ?, ?)",
                (building_id, p.number, p.area_m2, p.residents, f"{prefix}-{int(p.number):04d}"),
            ).lastrowid
            if p.meter_serial:  # "": a premise whose meter is not registered (yet)
                _meter(db, company_id, building_id, premise_id, p.meter_serial, p.meter_model, "individual",
                       p.communicator, p.archives, b)
        premise_ids = {r[1]: r[0] for r in db.execute("SELECT id, number FROM premises WHERE building_id = ?",
                                                      (building_id,))}
        for d in b.devices:
            _device(db, company_id, building_id, premise_ids[d.premise_number] if d.premise_number else None, d, b)
    return building_id


def _device(db, company_id: int, building_id: int, premise_id: int | None, d: DeviceSeed, b: BuildingSeed) -> None:
    spec, channels = configure(d.model, tariffs=d.tariffs)
    meter_id = db.execute(
        "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
        "tariffs, phase, ct_ratio, commissioned_at, reporting_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (company_id, building_id, premise_id, d.serial, d.model, "individual" if premise_id else "common",
         d.communicator, d.archives, spec.tariffs, d.phase, d.ct_ratio, b.commissioned_at, b.reporting_day),
    ).lastrowid
    for c in channels:
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) VALUES (?, ?, ?, ?, ?)",
                   (meter_id, c.number, c.resource, ",".join(c.parameters), c.tariff))


def _meter(db, company_id: int, building_id: int, premise_id: int | None, serial: str, model: str, role: str,
           communicator: str, archives: str, b: BuildingSeed) -> None:
    channels = channel_rows(model)  # an unknown model fails before its meter row is written
    meter_id = db.execute(
        "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
        "tariffs, commissioned_at, reporting_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (company_id, building_id, premise_id, serial, model, role, communicator, archives,
         catalogue.model(model).tariffs, b.commissioned_at, b.reporting_day),
    ).lastrowid
    for number, resource, parameters in channels:
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, ?, ?, ?)",
                   (meter_id, number, resource, parameters))


DEMO_LATITUDE, DEMO_LONGITUDE = 55.7961, 49.1064  # Казань: the simulated weather station stands here


def seed_demo_settings(registry: Registry, building_id: int, today: date) -> None:
    """What a dispatcher would set up on the demo building, each only where nothing is set yet:
    its coordinates (so the nearest weather station is found, manual 4.1.6), the heating season
    (4.5.7: heating from 1 October, else the non-heating season from 1 May), a balance group of
    the building heat meter against every apartment (4.6.6), one deviation rule (4.6.7: the
    supply temperature T1 more than 10 % off the mean of the previous three days), the city's
    relay threshold (4.6.11: 3 kW, what a limited apartment may still draw), the meters' numbers in
    ГИС ЖКХ for the billing document (4.4.1) but for the last apartment's, so that its «Ошибки» sheet
    shows the case, and the company's consumption norms of the building balance (4.3.3; values of the
    order regional norms have, for the demo only: cold water 4.5, hot water 3.5 m³ per resident a
    month, heat 0.0198 Gcal per m² a month)."""
    now = datetime.now(UTC).isoformat()
    heating = today.month >= 10 or today.month <= 4
    season_start = (date(today.year if today.month >= 10 else today.year - 1, 10, 1) if heating
                    else date(today.year, 5, 1))
    with registry.connect() as db:
        db.execute("UPDATE buildings SET latitude = ?, longitude = ? WHERE id = ? AND latitude IS NULL",
                   (DEMO_LATITUDE, DEMO_LONGITUDE, building_id))
        if db.execute("SELECT 1 FROM heating_seasons WHERE building_id = ?", (building_id,)).fetchone() is None:
            db.execute("INSERT INTO heating_seasons (building_id, season, starts_on, set_at) VALUES (?, ?, ?, ?)",
                       (building_id, "heating" if heating else "non_heating", season_start.isoformat(), now))
        root = db.execute("SELECT m.id FROM meters m JOIN meter_channels c ON c.meter_id = m.id "
                          "WHERE m.building_id = ? AND m.role = 'common' AND c.resource = 'heat' ORDER BY m.id LIMIT 1",
                          (building_id,)).fetchone()
        if root is not None and db.execute("SELECT 1 FROM balance_groups WHERE building_id = ?",
                                           (building_id,)).fetchone() is None:
            group = db.execute("INSERT INTO balance_groups (building_id, name, resource, root_meter_id, created_at) "
                               "VALUES (?, 'Дом: тепло', 'heat', ?, ?)", (building_id, root[0], now)).lastrowid
            db.execute("INSERT INTO balance_group_members (group_id, meter_id, sign) SELECT DISTINCT ?, m.id, '+' "
                       "FROM meters m JOIN meter_channels c ON c.meter_id = m.id WHERE m.building_id = ? "
                       "AND m.role = 'individual' AND c.resource = 'heat'", (group, building_id))
        if root is not None and db.execute("SELECT 1 FROM deviation_rules WHERE building_id = ?",
                                           (building_id,)).fetchone() is None:
            db.execute("INSERT INTO deviation_rules (building_id, resource, parameter, enabled, rule, direction, "
                       "tolerance, tolerance_unit, updated_at) VALUES (?, 'heat', 'T1', 1, 'mean3d', 'both', 10, "
                       "'percent', ?)", (building_id, now))
        db.execute("INSERT OR IGNORE INTO city_relay_thresholds (company_id, city_id, threshold_w, updated_at) "
                   "SELECT company_id, city_id, 3000, ? FROM buildings WHERE id = ?", (now, building_id))
        _demo_gis_numbers(db, building_id)
        _demo_norms(db, building_id, now)


def _demo_gis_numbers(db, building_id: int) -> None:
    """Every registered meter of the building but the last apartment's gets a number in ГИС ЖКХ, once."""
    if db.execute("SELECT 1 FROM meters WHERE building_id = ? AND gis_number != ''", (building_id,)).fetchone():
        return
    rows = db.execute("SELECT m.id, p.number FROM meters m LEFT JOIN premises p ON p.id = m.premise_id "
                      "WHERE m.building_id = ? ORDER BY m.role, CAST(p.number AS INTEGER)", (building_id,)).fetchall()
    for meter_id, _number in rows[:-1]:
        db.execute("UPDATE meters SET gis_number = ? WHERE id = ?", (f"ГИС-{building_id:04d}-{meter_id:06d}", meter_id))


def _demo_norms(db, building_id: int, now: str) -> None:
    """The company's consumption norms, where it has none yet."""
    company = db.execute("SELECT company_id FROM buildings WHERE id = ?", (building_id,)).fetchone()[0]
    for resource, value in (("cold_water", 4.5), ("hot_water", 3.5), ("heat", 0.0198)):
        db.execute("INSERT OR IGNORE INTO consumption_norms (company_id, building_id, resource, value, updated_at) "
                   "VALUES (?, NULL, ?, ?, ?)", (company, resource, value, now))


DEMO_RESIDENT = ("resident@demo.local", "Жилец Демо", "resident-demo")  # e-mail (login), name, password


def seed_demo_residents(registry: Registry, building_id: int, today: date) -> str:
    """The residents' app on the demo (manual 3.6): a resident registered for apartment 1 (DEMO_RESIDENT),
    a published notice of the management company for the building (4.5.10), each only once; and a fresh
    activation code, valid a week, for apartment 2 (an unused earlier one stops working, as when a
    dispatcher generates a new one) — what the demo prints so that registration can be tried. Returns it."""
    email, full_name, password = DEMO_RESIDENT
    now = datetime.now(UTC)
    with registry.connect() as db:
        company, dispatcher = db.execute(
            "SELECT b.company_id, (SELECT id FROM users WHERE company_id = b.company_id AND role = 'dispatcher' "
            "AND reader = 0 ORDER BY id LIMIT 1) FROM buildings b WHERE b.id = ?", (building_id,)).fetchone()
        premises = dict(db.execute("SELECT number, id FROM premises WHERE building_id = ?", (building_id,)).fetchall())
        if db.execute("SELECT 1 FROM residents WHERE email = ?", (email,)).fetchone() is None and "1" in premises:
            resident = db.execute("INSERT INTO residents (email, full_name, phone, password_hash, created_at, "
                                  "registered_at) VALUES (?, ?, '', ?, ?, ?)",
                                  (email, full_name, hash_password(password), now.isoformat(),
                                   now.isoformat())).lastrowid
            db.execute("INSERT INTO premise_residents VALUES (?, ?, ?)", (premises["1"], resident, now.isoformat()))
            db.execute("INSERT INTO activation_codes (premise_id, code, created_by, created_at, expires_at, used_at, "
                       "resident_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (premises["1"], new_code(), dispatcher, now.isoformat(),
                        (now + timedelta(days=VALID_DAYS)).isoformat(), now.isoformat(), resident))
        if db.execute("SELECT 1 FROM notices WHERE company_id = ?", (company,)).fetchone() is None:
            notice = db.execute(
                "INSERT INTO notices (company_id, title, body, relevant_from, relevant_to, created_by, created_at, "
                "published_at, published_by, first_published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (company, "Плановое отключение горячей воды",
                 "Горячей воды не будет с 10:00 до 18:00 из-за ремонта теплотрассы. Приносим извинения.",
                 (today - timedelta(days=1)).isoformat(), (today + timedelta(days=14)).isoformat(), dispatcher,
                 now.isoformat(), now.isoformat(), dispatcher, now.isoformat())).lastrowid
            db.execute("INSERT INTO notice_buildings VALUES (?, ?)", (notice, building_id))
        if "2" not in premises:
            return ""
        db.execute("UPDATE activation_codes SET expires_at = ? WHERE premise_id = ? AND used_at IS NULL "
                   "AND expires_at > ?", (now.isoformat(), premises["2"], now.isoformat()))
        code = new_code()
        db.execute("INSERT INTO activation_codes (premise_id, code, created_by, created_at, expires_at) "
                   "VALUES (?, ?, ?, ?, ?)", (premises["2"], code, dispatcher, now.isoformat(),
                                              (now + timedelta(days=VALID_DAYS)).isoformat()))
    return code
