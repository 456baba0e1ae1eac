"""Balance groups' rules (manual 4.6.6, 4.1.8) on hand-made meters and figures: what a group may
hold, and a period's imbalance = root − (Σ+ − Σ−), in units and in % of the root, only when both
sides are complete and the period is over."""

from __future__ import annotations

import pytest

from cloud.services.balance_groups import GroupDraft, group_point, measures, validate
from cloud.services.balance_rules import signed_figure
from cloud.services.models import ChannelInfo, Figure, InvalidInput, MeterInfo
from protocol.vocabulary import MeterRole, Resource

HEAT = Resource.HEAT
HEAT_CH = ChannelInfo(1, HEAT, ("Q", "V1"))
WATER_CH = ChannelInfo(2, Resource.COLD_WATER, ("V",))
EL_CH = ChannelInfo(1, Resource.ELECTRICITY, ("E",), "total")


def _meter(ident: int, serial: str, *channels: ChannelInfo, building: int = 1) -> MeterInfo:
    role = MeterRole.COMMON if ident == 1 else MeterRole.INDIVIDUAL
    return MeterInfo(ident, serial, "test", role, building, None, None, channels, "", "hour", "in_service")


METERS = [_meter(1, "ROOT", HEAT_CH, WATER_CH), _meter(2, "A1", HEAT_CH), _meter(3, "A2", HEAT_CH),
          _meter(4, "EL", EL_CH)]


def test_measures_needs_the_resource_and_its_consumption_parameter() -> None:
    assert measures(METERS[0], HEAT)
    assert measures(METERS[0], Resource.COLD_WATER)
    assert not measures(METERS[3], HEAT)
    assert not measures(_meter(5, "T", ChannelInfo(1, HEAT, ("T1", "T2"))), HEAT)  # temperatures only


def test_a_valid_draft_is_trimmed() -> None:
    clean = validate(GroupDraft("  Стояк 1 ", HEAT, 1, ((2, "+"), (3, "-"))), METERS, ["Другая"])
    assert clean == GroupDraft("Стояк 1", HEAT, 1, ((2, "+"), (3, "-")))
    assert validate(GroupDraft("Пустая", HEAT, 2), METERS, []).members == ()  # children come later


@pytest.mark.parametrize(("draft", "others", "message"), [
    (GroupDraft("", HEAT, 1), [], "name: a balance group needs a name"),
    (GroupDraft("x" * 201, HEAT, 1), [], "name: at most 200"),
    (GroupDraft("стояк", HEAT, 1), ["Стояк"], "name: the building already has"),
    (GroupDraft("Г", HEAT, 9), [], "root_meter_id: meter 9 is not a meter of this building"),
    (GroupDraft("Г", HEAT, 4), [], "root_meter_id: meter EL does not measure heat"),
    (GroupDraft("Г", HEAT, 1, ((1, "+"),)), [], r"members\[0\].meter_id: the root meter ROOT cannot"),
    (GroupDraft("Г", HEAT, 1, ((2, "+"), (4, "-"))), [], r"members\[1\].meter_id: meter EL does not measure"),
    (GroupDraft("Г", HEAT, 1, ((2, "+"), (2, "+"))), [], r"members\[1\].meter_id: meter A1 is listed twice"),
    (GroupDraft("Г", HEAT, 1, ((2, "±"),)), [], r"members\[0\].sign"),
    (GroupDraft("Г", HEAT, 1, ((0, "+"),)), [], r"members\[0\].meter_id: an id"),
    (GroupDraft("Г", "steam", 1), [], "resource"),  # type: ignore[arg-type]
])
def test_invalid_drafts_name_the_field(draft: GroupDraft, others: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate(draft, METERS, others)


def test_a_meter_of_another_building_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"members\[0\].meter_id: meter 2 is not a meter of this building"):
        validate(GroupDraft("Г", HEAT, 1, ((2, "+"),)), [METERS[0]], [])


def test_imbalance_with_a_minus_child() -> None:
    root = Figure(0.84, 1, 1)
    children = signed_figure(Figure(0.48, 1, 1), Figure(0.24, 1, 1))  # +0.48 − 0.24 = 0.24
    point = group_point(None, root, children, over=True)  # type: ignore[arg-type]
    # 0.84 − 0.24 = 0.60 Gcal; 0.60 / 0.84 = 71.43 %
    assert point.children.value == pytest.approx(0.24)
    assert point.children.complete
    assert point.imbalance == pytest.approx(0.60)
    assert point.imbalance_pct == pytest.approx(71.43)


def test_no_imbalance_while_running_or_incomplete() -> None:
    root, children = Figure(0.84, 1, 1), Figure(0.72, 2, 2)
    assert group_point(None, root, children, over=False).imbalance is None  # type: ignore[arg-type]
    # one of two children missing: the known 0.24, marked, and no imbalance
    partial = signed_figure(Figure(0.24, 1, 1), Figure(None, 1, 0))
    point = group_point(None, root, partial, over=True)  # type: ignore[arg-type]
    assert (point.children.value, point.children.complete, point.imbalance) == (pytest.approx(0.24), False, None)
    # a minus child alone known: its value counts negative, −0.24*, never 0
    assert signed_figure(Figure(None, 1, 0), Figure(0.24, 1, 1)).value == pytest.approx(-0.24)
    # the root missing: nothing
    assert group_point(None, Figure(None, 1, 0), Figure(0.72, 2, 2), over=True).imbalance is None  # type: ignore[arg-type]
    # a root of 0: the units, but no %
    zero = group_point(None, Figure(0.0, 1, 1), Figure(0.0, 1, 1), over=True)  # type: ignore[arg-type]
    assert (zero.imbalance, zero.imbalance_pct) == (0.0, None)
