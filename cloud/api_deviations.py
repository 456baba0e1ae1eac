"""/api/v1 routes of deviation monitoring and its rules (manual 4.2.1, 4.6.7); every figure the
page shows is an answer here: ``deviations``, ``deviation_rules``, ``set_deviation_rule``.

The rules themselves live in cloud/services/deviations.py. Tests: tests/integration/test_deviations.py.
No ``from __future__ import annotations`` here: the routes' parameter types are imported inside
``routes`` (cloud.api imports this module), and FastAPI must see them as objects, not names.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from cloud.services.container import Services
from cloud.services.deviations import DeviationRule, DeviationsReport
from protocol.vocabulary import Resource

_RULE_FIELDS = (
    "`enabled` (a rule is off until enabled; no rule = off), `rule` (`mean3d`: deviation from the mean of the "
    "parameter's values over the three local days before the period's day, at the same archive kind - 72 hourly "
    "or 3 daily values, all of them needed; `constant`: deviation from `reference`), `direction` (`both`, `above`: "
    "only a value above the reference is a violation, `below`: only one below it), `tolerance` >= 0 in "
    "`tolerance_unit` (`percent` of |reference|, or `absolute` in the parameter's `unit`: Gcal, m3, degC, kWh); "
    "a value exactly at the limit is allowed.")


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Moment, Number, PathId, StrictIn, Token, _service

    class DeviationRuleIn(StrictIn):
        enabled: bool = Field(description="monitor this parameter")
        rule: Literal["mean3d", "constant"] = Field("mean3d", description="the reference the value is compared "
                                                    "with: the mean of the three previous days, or a constant")
        reference: Number | None = Field(None, description="the constant of rule `constant`, in the parameter's "
                                         "unit (kept, unused, under `mean3d`)")
        direction: Literal["both", "above", "below"] = Field("both", description="the limited side")
        tolerance: Number = Field(description="the allowed deviation, >= 0")
        tolerance_unit: Literal["percent", "absolute"] = Field("percent", description="percent of |reference|, "
                                                               "or absolute in the parameter's unit")

    @api.get("/deviations", response_model=DeviationsReport, tags=["monitoring"],
             description="Deviation monitoring (manual 4.2.1): per building of the company (or `building_id`), "
                         "per building meter (ОДПУ) in service in the range, the violations of the enabled rules "
                         "in the periods of `kind` (hour: the hourly archive, day: the daily archive) whose local "
                         "starts lie from `from` to `to` inclusive - ISO datetimes in the building's local time "
                         "(an offset converts to it); without them, the last closed hour of today (kind=day: "
                         "yesterday) by the service clock. At most 744 periods. A violation carries the `value` "
                         "(a counter's amount of the period, the difference of consecutive integral records; a "
                         "temperature's mean as stored), the `reference` (the mean or the constant), `deviation` "
                         "= value - reference in the parameter's `unit` and in % of |reference| (null when it is "
                         "0), and the `allowed` deviation. `notes` say why a check could not judge: `no_data` "
                         "(the value is missing: null, never zero - no violation), `no_mean` (fewer previous "
                         "values than the mean needs: `mean_known` of `mean_needed`), `suspect` (an implausible "
                         "increment left out). Periods that have not closed are not checked. Rules: "
                         + _RULE_FIELDS)
    async def deviations(token: Token, kind: Literal["hour", "day"] = "hour",
                         first: Annotated[Moment | None, Query(alias="from")] = None,
                         last: Annotated[Moment | None, Query(alias="to")] = None,
                         building_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> DeviationsReport:
        return await _service(services.deviations.deviations(
            token, first, last, kind=kind, building_ids=None if building_id is None else [building_id]))

    @api.get("/buildings/{building_id}/deviation-rules", response_model=list[DeviationRule], tags=["monitoring"],
             description="The deviation rules of the building (manual 4.6.7): one per parameter its building "
                         "meters record (resource and mnemonic: heat Q, V1, V2, T1, T2; water V; electricity E), "
                         "`configured` false and `enabled` false where none was set (off by default). " + _RULE_FIELDS)
    async def deviation_rules(building_id: PathId, token: Token) -> list[DeviationRule]:
        return await _service(services.deviations.rules(token, building_id))

    @api.put("/buildings/{building_id}/deviation-rules/{resource}/{parameter}", response_model=DeviationRule,
             tags=["monitoring"],
             description="Set the rule of one parameter of the building (a dispatcher; audit-logged). The "
                         "parameter must be one the building meters record for `resource`; rule `constant` needs "
                         "`reference`. " + _RULE_FIELDS)
    async def set_deviation_rule(building_id: PathId, resource: Resource,
                                 parameter: Annotated[str, Path(max_length=8)], body: DeviationRuleIn,
                                 token: Token) -> DeviationRule:
        return await _service(services.deviations.set_rule(
            token, building_id, resource, parameter, enabled=body.enabled, rule=body.rule, reference=body.reference,
            direction=body.direction, tolerance=body.tolerance, tolerance_unit=body.tolerance_unit))
