"""The matching rules of an export run (manual 4.4.2), pure: which premises' personal accounts the
centre knows, which meters match the centre's devices, which matches are first-time or re-linked.

- A premise on a linked building without a personal account fails as «ЛС не указан» (MISSING); one
  whose account the centre does not know fails as «ЛС отсутствует в РИЦ» (UNKNOWN).
- A meter line (one meter, one resource it counts) of a matched premise matches the centre's device
  with the same serial under the same account AND the same resource. A serial the account has under
  another resource is a failure (OTHER_RESOURCE: the manual's example, ГВС here and ХВС there), no
  serial at all is NOT_FOUND.
- A match is first-time when this centre never matched the meter line before (no link stored), and
  re-linked when the centre's device id differs from the one the last run stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from protocol.billing import AccountAnswer

UNKNOWN, MISSING = "account_unknown", "account_missing"
NOT_FOUND, OTHER_RESOURCE = "serial_not_found", "serial_other_resource"
NO_READING = "no_reading"

ACCOUNT_TEXT = {UNKNOWN: "ЛС отсутствует в РИЦ", MISSING: "ЛС не указан"}
DEVICE_TEXT = {NOT_FOUND: "№ ПУ не найден в РИЦ у помещения с таким же ЛС",
               OTHER_RESOURCE: "№ ПУ найден в РИЦ с другим ресурсом ({resource})",
               NO_READING: "нет показаний прибора за последние {days} дн.: передавать нечего (не подставляется)"}


@dataclass(frozen=True, slots=True)
class Premise:
    id: int
    address: str
    number: str
    account: str  # '' when none is set


@dataclass(frozen=True, slots=True)
class Line:
    """A meter's resource in a premise: what is matched with one device of the centre."""

    meter_id: int
    premise_id: int
    serial: str
    resource: str


@dataclass(frozen=True, slots=True)
class AccountFailure:
    premise: Premise
    code: str  # UNKNOWN or MISSING


@dataclass(frozen=True, slots=True)
class DeviceFailure:
    line: Line
    premise: Premise
    code: str  # NOT_FOUND or OTHER_RESOURCE
    centre_resource: str = ""  # the resource the centre has the serial under (OTHER_RESOURCE)


@dataclass(frozen=True, slots=True)
class Match:
    line: Line
    premise: Premise
    device_id: str
    first_time: bool
    relinked: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    premises: int
    with_account: int
    account_failures: tuple[AccountFailure, ...]
    lines_of_matched: int  # meter lines in the premises whose account matched
    device_failures: tuple[DeviceFailure, ...]
    matches: tuple[Match, ...]

    @property
    def first_time(self) -> int:
        return sum(m.first_time for m in self.matches)

    @property
    def relinked(self) -> int:
        return sum(m.relinked for m in self.matches)


def accounts_to_ask(premises: Sequence[Premise]) -> list[str]:
    """The distinct personal accounts set here, in a stable order."""
    return sorted({p.account for p in premises if p.account})


def reconcile(premises: Sequence[Premise], lines: Sequence[Line], answers: Mapping[str, AccountAnswer],
              links: Mapping[tuple[int, str], str]) -> Outcome:
    """Match ``premises`` and their meter ``lines`` against the centre's ``answers`` (per account);
    ``links`` are the device ids stored by the previous runs, per (meter id, resource)."""
    failures: list[AccountFailure] = []
    matched: dict[int, AccountAnswer] = {}
    for p in premises:
        if not p.account:
            failures.append(AccountFailure(p, MISSING))
            continue
        answer = answers.get(p.account)
        if answer is None or not answer.found:
            failures.append(AccountFailure(p, UNKNOWN))
            continue
        matched[p.id] = answer
    by_id = {p.id: p for p in premises}
    device_failures: list[DeviceFailure] = []
    matches: list[Match] = []
    counted = 0
    for line in lines:
        answer = matched.get(line.premise_id)
        if answer is None:
            continue
        counted += 1
        premise = by_id[line.premise_id]
        same_serial = [d for d in answer.devices if d.serial == line.serial]
        hit = next((d for d in same_serial if d.resource == line.resource), None)
        if hit is None:
            if same_serial:
                device_failures.append(DeviceFailure(line, premise, OTHER_RESOURCE, same_serial[0].resource))
            else:
                device_failures.append(DeviceFailure(line, premise, NOT_FOUND))
            continue
        before = links.get((line.meter_id, line.resource))
        matches.append(Match(line, premise, hit.device_id, before is None,
                             before is not None and before != hit.device_id))
    return Outcome(len(premises), sum(1 for p in premises if p.account), tuple(failures), counted,
                   tuple(device_failures), tuple(matches))
