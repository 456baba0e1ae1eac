"""The one table of service procedures (manual 4.5.5) and the rules that walk it, as pure data
and functions (STYLE.md habit 3; no I/O: cloud/services/procedures.py stores and runs them).

Each procedure is an ordered tuple of operations, each mandatory or optional, manual or
automatic, with its default planned duration (4.6.12) and what completing it does to the meter
(``effect``). The rules, from the manual's wording:
- a procedure starts with an operation that has only optional ones before it (install starts
  with "заявка", "монтаж" or "ввод"; the others with their first, mandatory operation);
- after an operation the next is any later one up to and including the next mandatory one
  (optional ones may be skipped, mandatory ones never);
- a terminal operation ("решение о замене ПУ", the last one, "демонтаж ПУ" of decommissioning)
  ends the procedure; after an operation with only optional ones left it may also be finished;
- an automatic operation is not completed by hand: it runs (through the edge, or in the cloud).
Tests: tests/unit/cloud/test_procedure_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class RuleError(ValueError):
    """A step the table does not allow; the message says what is allowed instead."""


class Kind(StrEnum):
    INSTALL = "install"
    VERIFICATION = "verification"
    REPAIR = "repair"
    DECOMMISSIONING = "decommissioning"
    CORRECTION = "correction"
    RECONCILIATION = "reconciliation"


class Effect(StrEnum):
    """What completing an operation does (cloud/services/procedures.py carries it out)."""

    NONE = "none"
    OUT_OF_SERVICE = "out_of_service"  # polling stops from the actual date (an outage opens)
    COMMISSION = "commission"  # polling (re)starts from the actual date; next verification, archives, readings
    DECOMMISSION = "decommission"  # the meter's service ends for good (MetersService.decommission)
    REPLACE = "replace"  # the decision to replace: the procedure may end here
    AVAILABILITY = "availability"  # edge command "availability" (LoRa: after the module is woken)
    PASSPORT = "passport"  # edge command "read_current": the device's answer against the registry
    TIME_SERVICE = "time_service"  # edge command "time_sync" (forced)
    CHOOSE_SENSOR = "choose_sensor"  # the counter, period and the true value to write
    CORRECT = "correct"  # a new version of the archive value, in the cloud
    START = "start"  # reconciliation is started
    READ_CURRENT = "read_current"  # edge command "read_current": the values shown


# the edge command an automatic operation runs (None: it runs in the cloud)
COMMAND: dict[Effect, str] = {Effect.AVAILABILITY: "availability", Effect.PASSPORT: "read_current",
                              Effect.TIME_SERVICE: "time_sync", Effect.READ_CURRENT: "read_current"}


@dataclass(frozen=True, slots=True)
class Operation:
    code: str
    name: str  # the manual's Russian name
    mandatory: bool
    automatic: bool
    days: int  # default planned duration, days (4.6.12; a company's own in the registry)
    effect: Effect = Effect.NONE
    terminal: bool = False  # ends the procedure (the last operation always does)

    @property
    def command(self) -> str | None:
        return COMMAND.get(self.effect)


def _op(code: str, name: str, mandatory: bool, automatic: bool, days: int, effect: Effect = Effect.NONE,
        terminal: bool = False) -> Operation:
    return Operation(code, name, mandatory, automatic, days, effect, terminal)


M, OPT = True, False  # mandatory, optional
HAND, AUTO = False, True

# the operations after commissioning, the same in install, verification and repair
_CHECKS = (_op("availability_test", "тест на доступность ПУ", M, AUTO, 1, Effect.AVAILABILITY),
           _op("passport_check", "проверка согласованности паспортных данных", M, AUTO, 1, Effect.PASSPORT),
           _op("time_service", "включение ПУ в службу времени ЭнергоКабинета", M, AUTO, 1, Effect.TIME_SERVICE,
               terminal=True))


def _out_and_back(out_name: str, work_code: str, work_name: str) -> tuple[Operation, ...]:
    return (_op("out_of_service", out_name, M, HAND, 1, Effect.OUT_OF_SERVICE),
            _op("dismounting", "демонтаж ПУ", OPT, HAND, 3),
            _op(work_code, work_name, OPT, HAND, 14),
            _op("replacement_decision", "решение о замене ПУ", OPT, HAND, 3, Effect.REPLACE, terminal=True),
            _op("mounting", "монтаж ПУ", OPT, HAND, 3),
            _op("commissioning", "ввод ПУ в эксплуатацию", M, HAND, 1, Effect.COMMISSION),
            *_CHECKS)


# THE table (manual 4.5.5). Planned duration: the manual gives 1 day for "заявка на установку";
# the others are defaults a dispatcher changes on /settings/deadlines (4.6.12).
PROCEDURES: dict[Kind, tuple[Operation, ...]] = {
    Kind.INSTALL: (
        _op("install_request", "заявка на установку ПУ", OPT, HAND, 1),
        _op("mounting", "монтаж ПУ", OPT, HAND, 3),
        _op("commissioning", "ввод ПУ в эксплуатацию", M, HAND, 1, Effect.COMMISSION),
        *_CHECKS),
    Kind.VERIFICATION: _out_and_back("вывод ПУ из эксплуатации для поверки", "verification", "поверка ПУ"),
    # the manual names repair's first operation "для поверки" too (a copy of verification's); "ремонта" here
    Kind.REPAIR: _out_and_back("вывод ПУ из эксплуатации для ремонта", "repair", "ремонт ПУ"),
    Kind.DECOMMISSIONING: (
        _op("out_of_service", "вывод ПУ из эксплуатации", M, HAND, 1, Effect.DECOMMISSION),
        _op("dismounting", "демонтаж ПУ", OPT, HAND, 3, terminal=True)),
    Kind.CORRECTION: (
        _op("choose_sensor", "выбор сенсора", M, HAND, 1, Effect.CHOOSE_SENSOR),
        _op("correction", "коррекция показаний", M, AUTO, 1, Effect.CORRECT, terminal=True)),
    Kind.RECONCILIATION: (
        _op("start", "запуск", M, HAND, 1, Effect.START),
        _op("readings", "получение показаний", M, AUTO, 1, Effect.READ_CURRENT, terminal=True)),
}

NAMES: dict[Kind, str] = {Kind.INSTALL: "установка ПУ", Kind.VERIFICATION: "поверка ПУ", Kind.REPAIR: "ремонт ПУ",
                          Kind.DECOMMISSIONING: "выбытие ПУ", Kind.CORRECTION: "коррекция показаний ПУ",
                          Kind.RECONCILIATION: "сверка показаний ПУ"}
MAX_DAYS = 365  # a planned duration longer than a year is a typing error


def kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise RuleError(f"procedure: one of {', '.join(k.value for k in Kind)}, got {value!r}") from None


def operations(procedure: Kind) -> tuple[Operation, ...]:
    return PROCEDURES[procedure]


def _index(procedure: Kind, code: str) -> int:
    for i, op in enumerate(PROCEDURES[procedure]):
        if op.code == code:
            return i
    known = ", ".join(op.code for op in PROCEDURES[procedure])
    raise RuleError(f"operation: {NAMES[procedure]} has no operation {code!r} (its operations: {known})")


def operation(procedure: Kind, code: str) -> Operation:
    return PROCEDURES[procedure][_index(procedure, code)]


def _reachable(ops: tuple[Operation, ...], start: int) -> tuple[Operation, ...]:
    """The operations from ``start`` up to and including the first mandatory one (optional ones skipped)."""
    out = []
    for op in ops[start:]:
        out.append(op)
        if op.mandatory:
            break
    return tuple(out)


def starting(procedure: Kind) -> tuple[Operation, ...]:
    """The operations a procedure may start with: those with only optional operations before them."""
    return _reachable(PROCEDURES[procedure], 0)


def next_operations(procedure: Kind, done: str) -> tuple[Operation, ...]:
    """The operations that may follow the completed ``done``; () when the procedure ends with it."""
    i = _index(procedure, done)
    ops = PROCEDURES[procedure]
    if ops[i].terminal:
        return ()
    return _reachable(ops, i + 1)


def may_finish_after(procedure: Kind, done: str) -> bool:
    """Whether the procedure may end once ``done`` is completed: it is terminal, or every later
    operation is optional."""
    i = _index(procedure, done)
    ops = PROCEDURES[procedure]
    return ops[i].terminal or not any(op.mandatory for op in ops[i + 1:])


def default_next(procedure: Kind, done: str) -> Operation | None:
    """What follows ``done`` when the engineer names nothing: the next mandatory operation (the
    optional ones skipped), or None when the procedure may end."""
    if may_finish_after(procedure, done):
        return None
    return next_operations(procedure, done)[-1]


def check_start(procedure: Kind, code: str) -> Operation:
    """The operation that starts the procedure, or RuleError naming those that may."""
    op = operation(procedure, code)
    allowed = starting(procedure)
    if op not in allowed:
        names = ", ".join(f"«{o.name}»" for o in allowed)
        raise RuleError(f"operation: {NAMES[procedure]} cannot start with «{op.name}»; it starts with {names}")
    return op


def check_next(procedure: Kind, done: str, code: str | None) -> Operation | None:
    """The operation to run after ``done``: ``code`` if the table allows it, the default when
    ``code`` is None; None ends the procedure. RuleError says what may follow."""
    if code is None:
        return default_next(procedure, done)
    op = operation(procedure, code)
    allowed = next_operations(procedure, done)
    if op not in allowed:
        finished = operation(procedure, done)
        if not allowed:
            raise RuleError(f"next: «{finished.name}» ends {NAMES[procedure]}; no operation follows it")
        names = ", ".join(f"«{o.name}»" for o in allowed)
        skipped = [o for o in PROCEDURES[procedure][_index(procedure, done) + 1:_index(procedure, code)]
                   if o.mandatory]
        why = f" (mandatory «{skipped[0].name}» cannot be skipped)" if skipped else ""
        raise RuleError(f"next: «{op.name}» cannot follow «{finished.name}»{why}; allowed: {names}")
    return op


def check_manual(op: Operation) -> None:
    """A person completes only manual operations; automatic ones complete when they have run."""
    if op.automatic:
        raise RuleError(f"operation: «{op.name}» is automatic; it completes when it has run (retry it if it failed)")


def check_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise RuleError(f"days: a whole number of days from 1 to {MAX_DAYS}, got {value!r}")
    return value


def deadline(started_at: datetime, days: int) -> datetime:
    """The planned completion: ``days`` whole days after the operation started."""
    return started_at + timedelta(days=days)


def overdue(planned: datetime, now: datetime, finished: bool) -> bool:
    """The planned deadline passed and the operation is not done (4.5.5, 4.6.12)."""
    return not finished and now > planned


def check_actual_date(value: date, earliest: date | None, today: date) -> date:
    """The actual date an operation was done: not in the future, not before the previous operation's."""
    if value > today:
        raise RuleError(f"done_on: {value.isoformat()} is in the future (today is {today.isoformat()})")
    if earliest is not None and value < earliest:
        raise RuleError(f"done_on: {value.isoformat()} is before the previous operation's actual date "
                        f"{earliest.isoformat()}")
    return value
