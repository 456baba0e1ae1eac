"""The table of service procedures (manual 4.5.5) and its rules: every procedure's operations and
flags as the manual lists them, legal and illegal transitions, skipping optional operations, the
terminal "решение о замене ПУ", finishing, and deadlines/overdue (4.6.12)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud.services import procedure_rules as rules
from cloud.services.procedure_rules import Kind, RuleError


def codes(ops) -> list[str]:
    return [op.code for op in ops]


# the manual's lists, in order: (code, mandatory, automatic, terminal)
INSTALL = [("install_request", False, False, False), ("mounting", False, False, False),
           ("commissioning", True, False, False), ("availability_test", True, True, False),
           ("passport_check", True, True, False), ("time_service", True, True, True)]
OUT_AND_BACK = [("out_of_service", True, False, False), ("dismounting", False, False, False),
                ("WORK", False, False, False), ("replacement_decision", False, False, True),
                ("mounting", False, False, False), ("commissioning", True, False, False),
                ("availability_test", True, True, False), ("passport_check", True, True, False),
                ("time_service", True, True, True)]


def flags(kind: Kind) -> list[tuple[str, bool, bool, bool]]:
    return [(op.code, op.mandatory, op.automatic, op.terminal) for op in rules.operations(kind)]


def test_the_table_is_the_manuals() -> None:
    assert flags(Kind.INSTALL) == INSTALL
    assert flags(Kind.VERIFICATION) == [(c.replace("WORK", "verification"), *f) for c, *f in OUT_AND_BACK]
    assert flags(Kind.REPAIR) == [(c.replace("WORK", "repair"), *f) for c, *f in OUT_AND_BACK]
    assert flags(Kind.DECOMMISSIONING) == [("out_of_service", True, False, False), ("dismounting", False, False, True)]
    assert flags(Kind.CORRECTION) == [("choose_sensor", True, False, False), ("correction", True, True, True)]
    assert flags(Kind.RECONCILIATION) == [("start", True, False, False), ("readings", True, True, True)]
    # the manual's one planned duration: "заявка на установку ПУ" - 1 day
    assert rules.operation(Kind.INSTALL, "install_request").days == 1
    assert rules.operation(Kind.INSTALL, "install_request").name == "заявка на установку ПУ"
    # the automatic operations run edge commands, except the correction (in the cloud)
    assert [op.command for op in rules.operations(Kind.INSTALL) if op.automatic] == [
        "availability", "read_current", "time_sync"]
    assert rules.operation(Kind.CORRECTION, "correction").command is None
    assert rules.operation(Kind.RECONCILIATION, "readings").command == "read_current"


@pytest.mark.parametrize(("kind", "first"), [
    # install may begin with the request, the mounting (request skipped) or the commissioning ("Ввод")
    (Kind.INSTALL, ["install_request", "mounting", "commissioning"]),
    (Kind.VERIFICATION, ["out_of_service"]), (Kind.REPAIR, ["out_of_service"]),
    (Kind.DECOMMISSIONING, ["out_of_service"]), (Kind.CORRECTION, ["choose_sensor"]),
    (Kind.RECONCILIATION, ["start"])])
def test_starting_operations(kind: Kind, first: list[str]) -> None:
    assert codes(rules.starting(kind)) == first
    for code in first:
        assert rules.check_start(kind, code).code == code


@pytest.mark.parametrize(("kind", "code"), [
    (Kind.INSTALL, "availability_test"), (Kind.VERIFICATION, "dismounting"), (Kind.VERIFICATION, "commissioning"),
    (Kind.DECOMMISSIONING, "dismounting"), (Kind.CORRECTION, "correction"), (Kind.RECONCILIATION, "readings")])
def test_illegal_start(kind: Kind, code: str) -> None:
    with pytest.raises(RuleError, match="cannot start with"):
        rules.check_start(kind, code)


def test_install_walk_and_skipping() -> None:
    # after the request: the mounting (optional) or straight to the commissioning (mandatory)
    assert codes(rules.next_operations(Kind.INSTALL, "install_request")) == ["mounting", "commissioning"]
    assert rules.check_next(Kind.INSTALL, "install_request", None).code == "commissioning"
    assert rules.check_next(Kind.INSTALL, "install_request", "mounting").code == "mounting"
    # after the commissioning only the availability test: the checks cannot be skipped
    assert codes(rules.next_operations(Kind.INSTALL, "commissioning")) == ["availability_test"]
    with pytest.raises(RuleError, match="mandatory «тест на доступность ПУ» cannot be skipped"):
        rules.check_next(Kind.INSTALL, "commissioning", "time_service")
    # the last operation ends the procedure
    assert rules.next_operations(Kind.INSTALL, "time_service") == ()
    assert rules.check_next(Kind.INSTALL, "time_service", None) is None
    with pytest.raises(RuleError, match="no operation follows"):
        rules.check_next(Kind.INSTALL, "time_service", "mounting")
    # going back is never allowed
    with pytest.raises(RuleError, match="cannot follow"):
        rules.check_next(Kind.INSTALL, "commissioning", "mounting")


@pytest.mark.parametrize("kind", [Kind.VERIFICATION, Kind.REPAIR])
def test_out_and_back(kind: Kind) -> None:
    work = kind.value  # "verification" / "repair"
    # after taking it out: any optional one up to the commissioning, which cannot be skipped
    assert codes(rules.next_operations(kind, "out_of_service")) == [
        "dismounting", work, "replacement_decision", "mounting", "commissioning"]
    assert rules.check_next(kind, "out_of_service", None).code == "commissioning"  # optional ones skipped
    assert rules.check_next(kind, work, "mounting").code == "mounting"
    with pytest.raises(RuleError, match="mandatory «ввод ПУ в эксплуатацию» cannot be skipped"):
        rules.check_next(kind, "out_of_service", "availability_test")
    # "решение о замене ПУ" ends the procedure: what follows it may not be done
    assert rules.next_operations(kind, "replacement_decision") == ()
    assert rules.may_finish_after(kind, "replacement_decision")
    assert rules.check_next(kind, "replacement_decision", None) is None
    with pytest.raises(RuleError, match="ends"):
        rules.check_next(kind, "replacement_decision", "mounting")
    # but the procedure cannot just end before it is back in service
    assert not rules.may_finish_after(kind, "out_of_service")
    assert not rules.may_finish_after(kind, "commissioning")
    assert rules.check_next(kind, "commissioning", None).code == "availability_test"
    assert rules.check_next(kind, "availability_test", None).code == "passport_check"
    assert rules.check_next(kind, "passport_check", None).code == "time_service"


def test_decommissioning_correction_reconciliation() -> None:
    # after "вывод из эксплуатации" only the optional (and terminal) dismounting: the procedure may end
    assert codes(rules.next_operations(Kind.DECOMMISSIONING, "out_of_service")) == ["dismounting"]
    assert rules.may_finish_after(Kind.DECOMMISSIONING, "out_of_service")
    assert rules.check_next(Kind.DECOMMISSIONING, "out_of_service", None) is None
    assert rules.check_next(Kind.DECOMMISSIONING, "out_of_service", "dismounting").code == "dismounting"
    assert rules.check_next(Kind.DECOMMISSIONING, "dismounting", None) is None
    assert rules.check_next(Kind.CORRECTION, "choose_sensor", None).code == "correction"
    assert rules.check_next(Kind.RECONCILIATION, "start", None).code == "readings"


def test_automatic_operations_are_not_completed_by_hand() -> None:
    rules.check_manual(rules.operation(Kind.INSTALL, "commissioning"))
    with pytest.raises(RuleError, match="automatic"):
        rules.check_manual(rules.operation(Kind.INSTALL, "availability_test"))
    with pytest.raises(RuleError, match="automatic"):
        rules.check_manual(rules.operation(Kind.CORRECTION, "correction"))


def test_unknown_names() -> None:
    with pytest.raises(RuleError, match="procedure: one of install"):
        rules.kind("calibration")
    with pytest.raises(RuleError, match="has no operation 'repair'"):
        rules.operation(Kind.VERIFICATION, "repair")


def test_deadlines_and_overdue() -> None:
    started = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
    # 3 days planned: due 2026-01-13 09:30 UTC
    planned = rules.deadline(started, 3)
    assert planned == datetime(2026, 1, 13, 9, 30, tzinfo=UTC)
    assert not rules.overdue(planned, datetime(2026, 1, 13, 9, 30, tzinfo=UTC), False)  # due, not passed
    assert rules.overdue(planned, datetime(2026, 1, 13, 9, 31, tzinfo=UTC), False)
    assert not rules.overdue(planned, datetime(2026, 2, 1, tzinfo=UTC), True)  # done: never overdue
    assert rules.check_days(30) == 30
    for bad in (0, 366, 1.5, True, "3"):
        with pytest.raises(RuleError, match="days: a whole number"):
            rules.check_days(bad)


def test_actual_dates() -> None:
    today = date(2026, 1, 14)
    assert rules.check_actual_date(date(2026, 1, 12), date(2026, 1, 12), today) == date(2026, 1, 12)
    with pytest.raises(RuleError, match="in the future"):
        rules.check_actual_date(date(2026, 1, 15), None, today)
    with pytest.raises(RuleError, match="before the previous operation's actual date 2026-01-12"):
        rules.check_actual_date(date(2026, 1, 11), date(2026, 1, 12), today)
