"""A fleet of simulated buildings run from one process: what `domuchet sim --scenario FILE` runs.

A scenario file describes one building or many (simulators/scenarios/README.md, ``fleet.toml``).
Each building gets its own Modbus TCP port (the first port + its place in the fleet), its own
RS-485 line when configured, and its own state file; every radio device of every building goes
over the one MQTT connection to the broker. Faults are the fleet's: one naming a device applies
in the building that has it, ``"*"`` in every building.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from simulators.runner import Endpoints, SimulatedBuilding, run_buildings
from simulators.scenario import Fleet, Scenario


def state_dir(fleet: Fleet, scenario: Scenario, sim_dir: Path) -> Path:
    """Where a building of ``fleet`` keeps its state under ``sim_dir``: a one-building fleet where a
    building's always was, a fleet's building in a folder named after its site."""
    return sim_dir if len(fleet.scenarios) == 1 else sim_dir / scenario.building.site


class SimulatedFleet:
    """The buildings of a ``Fleet``; a one-building fleet keeps its state where a building's always was."""

    def __init__(self, fleet: Fleet, data_dir: Path, endpoints: Endpoints, ports: list[int] | None = None) -> None:
        self.fleet = fleet
        if ports is not None and len(ports) != len(fleet.scenarios):
            raise ValueError(f"ports: one Modbus TCP port per building ({len(fleet.scenarios)}), got {len(ports)}")
        self.buildings = [
            SimulatedBuilding(s, state_dir(fleet, s, data_dir),
                              replace(endpoints, modbus_port=ports[k] if ports else endpoints.modbus_port + k),
                              check_faults=len(fleet.scenarios) == 1)
            for k, s in enumerate(fleet.scenarios)]
        self._check()

    def _check(self) -> None:
        """Every device's serial and devEUI is the fleet's only one; every fault names a device the fleet has."""
        seen: dict[str, str] = {}
        for b in self.buildings:  # the building's identities, with those replacements will give
            site = b.scenario.building.site
            for identity in b.faults.known:
                if identity in seen:
                    raise ValueError(f"device {identity!r} is in buildings {seen[identity]!r} and {site!r}: "
                                     "give one of them another heat_meter_serial, seed or new_serial")
                seen[identity] = site
        for i, f in enumerate(self.fleet.scenarios[0].faults):
            if f.device != "*" and f.device not in seen:
                raise ValueError(f"faults[{i}].device: no device with serial or devEUI {f.device!r}")

    def device_lines(self) -> list[dict]:
        return [line for b in self.buildings for line in b.device_lines()]

    async def run(self, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> None:
        client_id = (f"sim-{self.buildings[0].scenario.building.site}" if len(self.buildings) == 1
                     else f"sim-fleet-{self.fleet.name}")
        await run_buildings(self.buildings, out, stop, client_id=client_id)
