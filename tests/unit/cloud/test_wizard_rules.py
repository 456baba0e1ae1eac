"""The add-meter wizard's rules (cloud/services/wizard_rules.py, manual 4.5.2): each step's refusals
and each model's rules, with the expected channels and options worked out from the manual and the
catalogue by hand."""

# ruff: noqa: S105, S106 - the admin passwords and their "set"/"factory" states here are test values
from __future__ import annotations

from datetime import date

import pytest

from cloud.services.communicators import CommunicatorSpec
from cloud.services.models import InvalidInput
from cloud.services.wizard_rules import (
    Draft,
    KitPart,
    LineChoice,
    check_barcode,
    check_config,
    check_kit,
    check_line,
    check_location,
    check_through,
    check_type,
    communicator_text,
    create_arguments,
    measures_heat,
)

LORA = CommunicatorSpec("lora", "builtin", dev_eui="70-B3-D5-E7-5E-2A-00-09", lora_class="A", lorawan_version="1.0.2")
TCP = CommunicatorSpec("tcp", "external", host="10.0.0.5", port=502)
# a calculator's heat input: supply and return flow transducers and temperature sensors
HEAT_KIT = (KitPart("flow_transducer", "PR-1", 1), KitPart("flow_transducer", "PR-2", 1),
            KitPart("temperature_sensor", "KT-1", 1), KitPart("temperature_sensor", "KT-2", 1))


def draft(model: str, role: str = "individual", **kw) -> Draft:
    base = {"building_id": 1, "premise_id": 5 if role == "individual" else None, "serial": "S-1",
            "line": LineChoice("builtin", spec=LORA)}
    return Draft(role=role, model=model, **{**base, **kw})


def refused(field: str, call, *args) -> str:
    with pytest.raises(InvalidInput, match=rf"^{field}: ") as caught:
        call(*args)
    return str(caught.value)


# --- steps 1-4 ---------------------------------------------------------------------------------------

def test_type_needs_a_role_and_a_model_that_serves_it() -> None:
    refused("role", check_type, Draft(role="", model="KARAT-926LW"))
    refused("model", check_type, Draft(role="individual", model="KARAT-999"))
    # a calculator sits on a building's heat input: ОДПУ only; a Compact-2 measures a flat: ИПУ only
    assert "common (ОДПУ)" in refused("role", check_type, Draft(role="individual", model="KARAT-307"))
    assert "individual (ИПУ)" in refused("role", check_type, Draft(role="common", model="KARAT-Compact-2-223"))
    assert check_type(Draft(role="common", model="KARAT-941LW")).role == "common"  # either role


def test_location_premise_for_an_individual_meter_none_for_a_common_one() -> None:
    refused("building_id", check_location, Draft(role="common", model="KARAT-307"))
    refused("premise_id", check_location, Draft(role="individual", model="KARAT-926LW", building_id=1))
    refused("premise_id", check_location, Draft(role="common", model="KARAT-307", building_id=1, premise_id=3))
    assert check_location(Draft(role="common", model="KARAT-307", building_id=1)).premise_id is None


def test_barcode_gives_the_serial_when_none_is_typed() -> None:
    assert check_barcode(Draft(barcode=" 223T0042 ")).serial == "223T0042"
    assert check_barcode(Draft(barcode="223T0042", serial="X-1")).serial == "X-1"  # a typed serial wins
    refused("serial", check_barcode, Draft(barcode="(01)4607 с пробелом"))  # no serial in it, none typed
    refused("serial", check_barcode, Draft(serial="two words"))
    refused("barcode", check_barcode, Draft(serial="S", barcode="x" * 65))


def test_line_builtin_only_for_devices_with_a_module() -> None:
    checked = check_line(draft("KARAT-926LW"))
    assert checked.line is not None
    assert checked.line.spec is not None
    assert checked.line.spec.dev_eui == "70b3d5e75e2a0009"  # normalised
    assert checked.line.spec.serial == "S-1"  # the module is the meter's own
    assert "no built-in" in refused("line.mode", check_line, draft("KARAT-307", "common"))
    # a Modbus calculator talks over TCP or GPRS, a LoRaWAN device over LoRa only
    refused("line.spec.kind", check_line, draft("KARAT-307", "common", line=LineChoice("new", spec=LORA)))
    refused("line.communicator_id", check_line, draft("KARAT-926LW", line=LineChoice("existing", communicator_id=4)),
            TCP)
    refused("line.unit", check_line, draft("KARAT-307", "common", line=LineChoice("new", spec=TCP, unit=248)))
    new = check_line(draft("KARAT-307", "common", line=LineChoice("new", spec=TCP, unit=3)))
    assert new.line is not None
    assert new.line.spec is not None
    assert new.line.spec.placement == "external"
    assert communicator_text(new, new.line.spec) == "Modbus TCP 10.0.0.5:502 #3"
    refused("line.mode", check_line, draft("KARAT-926LW", line=LineChoice("radio")))


def test_gprs_needs_two_identifiers() -> None:
    one = CommunicatorSpec("gprs", "external", imei="356938035643809")
    assert "two identifiers" in refused("iccid", check_line,
                                        draft("KARAT-306", "common", line=LineChoice("new", spec=one)))
    two = CommunicatorSpec("gprs", "external", imei="356938035643809", iccid="8970101234567890123")
    checked = check_line(draft("KARAT-306", "common", line=LineChoice("new", spec=two)))
    assert checked.line is not None
    assert checked.line.spec is not None
    assert communicator_text(checked, checked.line.spec) == "GPRS 356938035643809"


# --- step 5, model by model ---------------------------------------------------------------------------

def test_calculator_307_kit_needs_the_heat_input_sensors() -> None:
    d = draft("KARAT-307", "common", line=LineChoice("new", spec=TCP))
    assert "two flow transducers" in refused("kit", check_config, d)
    configured = check_config(Draft(**{**_fields(d), "kit": (*HEAT_KIT, KitPart("water_meter", "W-3", 3))}))
    # 307: heat input 1 (Q, V1, V2, T1, T2), hot water 2 and cold water 3; no month archive
    assert [(c.number, c.resource) for c in configured.channels] == [(1, "heat"), (2, "hot_water"), (3, "cold_water")]
    assert configured.archives == "hour, day, integral"
    assert measures_heat(configured.channels)
    # a radio module turns the kit into a KARAT-929LW
    assert "choose that model" in refused("kit", check_kit, Draft(**{**_fields(d), "kit": (
        *HEAT_KIT, KitPart("radio_module", "M-1"))}))
    # 306 has no channel 3
    d306 = Draft(**{**_fields(d), "model": "KARAT-306", "kit": (*HEAT_KIT, KitPart("water_meter", "W-3", 3))})
    assert "channel 2" in refused("kit", check_config, d306)


def test_929lw_on_a_306_is_the_calculators_channels_with_one_radio_module() -> None:
    base = draft("KARAT-929LW", "common", kit=(*HEAT_KIT, KitPart("radio_module", "929-77")))
    refused("calculator", check_config, base)
    configured = check_config(Draft(**{**_fields(base), "calculator": "KARAT-306"}))
    # the 306's channels: heat 1, hot water drawn 2; its archives keep 31 days of hours: "hour, day"
    assert [(c.number, c.resource) for c in configured.channels] == [(1, "heat"), (2, "hot_water")]
    assert configured.draft.kit[-1].model == "KARAT-929LW"  # the module's model filled in
    no_module = Draft(**{**_fields(base), "calculator": "KARAT-307", "kit": HEAT_KIT})
    assert "one radio module" in refused("kit", check_config, no_module)
    twice = Draft(**{**_fields(base), "calculator": "KARAT-307",
                     "kit": (*HEAT_KIT, KitPart("radio_module", "PR-1"))})
    assert "listed twice" in refused("kit", check_config, twice)
    lead = Draft(**{**_fields(base), "calculator": "KARAT-307", "kit": (*HEAT_KIT, KitPart("radio_module", "S-1"))})
    assert "lead device" in refused("kit", check_config, lead)
    refused("calculator", check_config, Draft(**{**_fields(draft("KARAT-926LW")), "calculator": "KARAT-307"}))


def test_compact_2_inputs_default_hot_then_cold_and_take_only_water() -> None:
    configured = check_config(draft("KARAT-Compact-2-223"))
    # channel 1 heat; input 1 = channel 2 hot water, input 2 = channel 3 cold water
    assert [(c.number, c.resource) for c in configured.channels] == [(1, "heat"), (2, "hot_water"), (3, "cold_water")]
    both_cold = check_config(draft("KARAT-Compact-2-213", channel_resources={2: "cold_water"}))
    assert [c.resource for c in both_cold.channels] == ["heat", "cold_water", "cold_water"]
    assert "hot_water or cold_water" in refused("channel_resources", check_config,
                                                draft("KARAT-Compact-2-223", channel_resources={2: "gas"}))
    assert "channel 1 is not one" in refused("channel_resources", check_config,
                                             draft("KARAT-Compact-2-223", channel_resources={1: "cold_water"}))
    args = create_arguments(configured)
    assert args["channel_resources"] == {2: "hot_water", 3: "cold_water"}
    assert args["model"] == "KARAT-Compact-2-223"


def test_926lw_measures_one_resource_chosen_and_needs_the_verification_date() -> None:
    refused("channel_resources", check_config, draft("KARAT-926LW", verified_on=date(2025, 6, 1)))
    refused("channel_resources", check_config, draft("KARAT-926LW", channel_resources={1: "heat"},
                                                     verified_on=date(2025, 6, 1)))
    refused("verified_on", check_config, draft("KARAT-926LW", channel_resources={1: "hot_water"}))
    configured = check_config(draft("KARAT-926LW", channel_resources={1: "hot_water"}, verified_on=date(2025, 6, 1),
                                    kit=(KitPart("water_meter", "SVK-15-77", 1),)))
    assert [(c.number, c.resource) for c in configured.channels] == [(1, "hot_water")]
    assert not measures_heat(configured.channels)
    refused("next_verification_on", check_config, draft(
        "KARAT-926LW", channel_resources={1: "hot_water"}, verified_on=date(2025, 6, 1),
        next_verification_on=date(2025, 6, 1)))


def test_941lw_tariffs_phase_multiplier_and_password() -> None:
    refused("phases", check_config, draft("KARAT-941LW"))
    assert "A, B or C" in refused("phase", check_config, draft("KARAT-941LW", phases=1))
    refused("phase", check_config, draft("KARAT-941LW", phases=3, phase="A"))
    refused("tariffs", check_config, draft("KARAT-941LW", phases=3, tariffs=5))
    two = check_config(draft("KARAT-941LW", phases=1, phase="B", tariffs=2))
    # channel 1 the total, 2 and 3 the zones T1 (day) and T2 (night)
    assert [(c.number, c.tariff) for c in two.channels] == [(1, "total"), (2, "T1"), (3, "T2")]
    # a reading multiplier only on a building meter fed through current transformers
    assert "building meter" in refused("ct_ratio", check_config, draft("KARAT-941LW", phases=3, ct_ratio=40))
    common = check_config(draft("KARAT-941LW", "common", phases=3, ct_ratio=40))
    assert common.draft.ct_ratio == 40.0
    assert common.draft.tariffs == 1
    # the factory password is the module's own: stored as none; another one is kept
    assert check_config(draft("KARAT-941LW", phases=3, admin_password="000000")).draft.admin_password is None
    assert check_config(draft("KARAT-941LW", phases=3, admin_password="s3cret")).draft.admin_password == "s3cret"
    refused("admin_password", check_config, draft("KARAT-941LW", phases=3, admin_password="with space"))
    # electricity options on another model
    refused("tariffs", check_config, draft("KARAT-926LW", tariffs=2))
    refused("ct_ratio", check_config, draft("KARAT-Compact-2-223", ct_ratio=2))


def test_927lw_two_or_four_inputs() -> None:
    assert [c.number for c in check_config(draft("KARAT-927LW")).channels] == [1, 2]  # 2 by default
    four = check_config(draft("KARAT-927LW", inputs=4, channel_resources={4: "gas"}))
    # inputs 1-4: hot, cold, hot, and the fourth set to gas
    assert [c.resource for c in four.channels] == ["hot_water", "cold_water", "hot_water", "gas"]
    assert "2 or 4" in refused("inputs", check_config, draft("KARAT-927LW", inputs=3))
    refused("channel_resources", check_config, draft("KARAT-927LW", channel_resources={3: "gas"}))
    refused("inputs", check_config, draft("KARAT-926LW", inputs=2, channel_resources={1: "cold_water"}))


def test_archive_kinds_only_of_those_the_model_keeps() -> None:
    refused("archive_kinds", check_config, draft("KARAT-Compact-2-223", archive_kinds=("minute",)))
    assert check_config(draft("KARAT-Compact-2-223", archive_kinds=("day", "hour"))).archives == "hour, day, integral"


def test_check_through_stops_at_the_first_refusing_step() -> None:
    bad_line = draft("KARAT-926LW", line=None, serial="")
    refused("serial", check_through, bad_line, "line")  # step 3 refuses before step 4 is looked at
    assert check_through(bad_line, "location").serial == ""
    refused("step", check_through, bad_line, "finish")


def _fields(d: Draft) -> dict:
    return {name: getattr(d, name) for name in Draft.__slots__}  # type: ignore[attr-defined]
