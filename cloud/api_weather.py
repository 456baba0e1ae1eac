"""/api/v1 route of the outdoor temperature beside a premise's consumption (manual 4.1.6): the
building's nearest weather station and its mean temperature per period, operationId
``premise_outdoor_temperature``. The answer is cloud/services/weather.py ``OutdoorTemperature``.

Wired by cloud/api.py's ``integration_router`` (``routes(api, services)``). Tests:
tests/integration/test_weather_feed.py.
"""

from typing import Literal

from fastapi import APIRouter

from cloud.services.container import Services
from cloud.services.models import Granularity
from cloud.services.weather import OutdoorTemperature


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    # evaluated when the route is defined (no postponed annotations here): FastAPI resolves these local names
    from cloud.api import Day, PathId, Token, _service

    @api.get("/premises/{premise_id}/outdoor-temperature", response_model=OutdoorTemperature, tags=["accounting"],
             description=(
                 "The outdoor temperature beside the premise's consumption (manual 4.1.6): the station nearest to "
                 "the building's coordinates (great-circle distance `distance_km`) and its mean temperature in "
                 "degC per period of the view (`granularity` hour: the hours of the day `period`; day: the days "
                 "of its month; month: the months of its year), local period starts of the building. A mean needs "
                 "observations for at least half of the period's hours that have passed, else null. Without "
                 "coordinates or without any station `station` is null and `reason` is `no_coordinates` or "
                 "`no_station`."))
    async def premise_outdoor_temperature(premise_id: PathId, token: Token, period: Day,
                                          granularity: Literal["hour", "day", "month"] = "day"
                                          ) -> OutdoorTemperature:
        return await _service(services.weather.premise_outdoor(token, premise_id, Granularity(granularity), period))
