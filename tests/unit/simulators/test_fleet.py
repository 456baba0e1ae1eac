"""A fleet of buildings without a network (simulators/fleet.py): one port per building, one state
file per building, identities unique across the fleet, faults checked against the whole fleet,
and replacement identities drawn from the seed or given by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from simulators.fleet import SimulatedFleet
from simulators.runner import Endpoints
from simulators.scenario import Fault, Fleet, load_fleet

FLEET = """
seed = 8
start = "2025-01-10T00:00"
[[buildings]]
count = 2
site = "a"
address = "x"
apartments = 2
[[buildings]]
site = "b"
address = "y"
apartments = 1
heat_meter_serial = "{serial}"
"""


def _fleet(tmp_path: Path, serial: str = "30799001", faults: list[Fault] | None = None) -> Fleet:
    path = tmp_path / "f.toml"
    path.write_text(FLEET.format(serial=serial), encoding="utf-8")
    fleet = load_fleet(path)
    if faults is not None:
        fleet = Fleet(fleet.name, tuple(replace(s, faults=faults) for s in fleet.scenarios))
    return fleet


def test_ports_state_files_and_lines(tmp_path: Path) -> None:
    sim = SimulatedFleet(_fleet(tmp_path), tmp_path / "sim", Endpoints(modbus_port=6000))
    assert [b.endpoints.modbus_port for b in sim.buildings] == [6000, 6001, 6002]
    assert [b.state_path for b in sim.buildings] == [tmp_path / "sim" / site / "state.json" for site in
                                                     ("a-1", "a-2", "b")]
    assert all(p.exists() for p in (b.state_path for b in sim.buildings))
    lines = sim.device_lines()
    assert [line["building"] for line in lines] == ["a-1"] * 3 + ["a-2"] * 3 + ["b"] * 2
    sim = SimulatedFleet(_fleet(tmp_path), tmp_path / "sim", Endpoints(), ports=[7001, 7005, 7009])
    assert [b.endpoints.modbus_port for b in sim.buildings] == [7001, 7005, 7009]
    with pytest.raises(ValueError, match="one Modbus TCP port per building"):
        SimulatedFleet(_fleet(tmp_path), tmp_path / "sim", Endpoints(), ports=[7001])


def test_one_building_keeps_its_state_where_it_was(tmp_path: Path) -> None:
    sim = SimulatedFleet(load_fleet("demo"), tmp_path, Endpoints())
    assert sim.buildings[0].state_path == tmp_path / "state.json"


def test_a_serial_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'30708001' is in buildings 'a-1' and 'b'"):
        SimulatedFleet(_fleet(tmp_path, serial="30708001"), tmp_path / "sim", Endpoints())


def test_faults_are_checked_against_the_whole_fleet(tmp_path: Path) -> None:
    faults = [Fault("offline", device="223090002", at_hour=1), Fault("offline", device="30799001")]
    sim = SimulatedFleet(_fleet(tmp_path, faults=faults), tmp_path / "sim", Endpoints())
    assert [b.scenario.building.site for b in sim.buildings if b.faults._lora_targets(faults[0])] == ["a-2"]
    with pytest.raises(ValueError, match=r"faults\[1\].device: no device with serial or devEUI '223990001'"):
        SimulatedFleet(_fleet(tmp_path, faults=[faults[0], Fault("offline", device="223990001")]),
                       tmp_path / "sim2", Endpoints())


def test_replacement_identities(tmp_path: Path) -> None:
    drawn = [Fault("replacement", device="223080001", at_hour=2)]
    sim = SimulatedFleet(_fleet(tmp_path, faults=drawn), tmp_path / "s1", Endpoints())
    again = SimulatedFleet(_fleet(tmp_path, faults=drawn), tmp_path / "s2", Endpoints())
    (first,) = sim.buildings[0].faults.identities[0].values()
    assert first == next(iter(again.buildings[0].faults.identities[0].values()))  # from the seed
    assert (first[0][:5], first[1][:12]) == ("22308", "70b3d5e75e08")
    assert 5000 <= int(first[0][5:]) <= 9999
    assert int(first[1][12:], 16) >= 0x8000
    given = [Fault("replacement", device="223080001", at_hour=2, new_serial="223081234",
                   new_dev_eui="70b3d5e75e08abcd"),
             Fault("offline", device="70b3d5e75e08abcd", at_hour=5)]  # a fault may name the new device
    sim = SimulatedFleet(_fleet(tmp_path, faults=given), tmp_path / "s3", Endpoints())
    assert next(iter(sim.buildings[0].faults.identities[0].values())) == ("223081234", "70b3d5e75e08abcd")
    taken = [Fault("replacement", device="223080001", new_serial="223080002")]
    with pytest.raises(ValueError, match=r"faults\[0\].new_serial: '223080002' is already a device's"):
        SimulatedFleet(_fleet(tmp_path, faults=taken), tmp_path / "s4", Endpoints())
    with pytest.raises(ValueError, match="belong to a replacement of one named device"):
        Fault("offline", device="223080001", new_serial="1")
    with pytest.raises(ValueError, match="new_dev_eui"):
        Fault("replacement", device="223080001", new_dev_eui="XYZ")
    with pytest.raises(ValueError, match=r"faults\[0\].new_dev_eui: '30708001' is not a radio device"):
        SimulatedFleet(_fleet(tmp_path, faults=[Fault("replacement", device="30708001",
                                                      new_dev_eui="70b3d5e75e08abcd")]), tmp_path / "s5", Endpoints())


async def test_a_modbus_port_in_use_stops_the_simulator_with_the_building_and_port(tmp_path: Path) -> None:
    """The second building's port is taken: opening the transports fails with an error that names the
    building and the port, not a building silently without its Modbus server."""
    import socket

    from simulators.runner import SimulatedBuilding
    fleet = _fleet(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        first = SimulatedBuilding(fleet.scenarios[0], tmp_path / "a", Endpoints(modbus_port=0))
        second = SimulatedBuilding(fleet.scenarios[1], tmp_path / "b", Endpoints(modbus_port=port))
        await first.open_transports()
        try:
            with pytest.raises(OSError, match=rf"building {fleet.scenarios[1].building.site}: Modbus TCP "
                                              rf"127\.0\.0\.1:{port}: cannot listen"):
                await second.open_transports()
        finally:
            await first.close_transports()
