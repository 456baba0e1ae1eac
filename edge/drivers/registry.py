"""The site's meters' drivers, by serial, and the transports that make them, each loaded on first
need: an edge with only LoRa meters never imports pymodbus, one with only Modbus meters never
imports paho-mqtt (nor ChirpStack's protobufs). Transports are named in one table, explicitly
(STYLE.md habit 4). Tests: tests/integration/test_edge_drivers.py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from protocol.settings import ConfigError

if TYPE_CHECKING:
    from edge.buffer import Buffer
    from edge.config import EdgeConfig, MeterConfig
    from edge.drivers.base import DeviceStatus, Driver, GapSummary, Transport

# meter transport -> the module whose ``open_transport(config, buffer)`` serves it
TRANSPORTS: dict[str, str] = {
    "modbus-tcp": "edge.drivers.modbus",
    "modbus-rtu": "edge.drivers.modbus",  # one implementation: RTU differs only by its link
    "lorawan": "edge.drivers.lorawan",
}


class DriverRegistry:
    """One driver per configured meter, in the site's order; implements edge/drivers/base.py
    ``Drivers`` for the command runner and the status endpoint."""

    def __init__(self, config: EdgeConfig, buffer: Buffer) -> None:
        self.config = config
        self.buffer = buffer
        self.transports: dict[str, Transport] = {}  # module name -> its transport, once loaded
        self._drivers: dict[str, Driver] = {}

    def transport(self, name: str) -> Transport:
        """The transport of a meter transport name, loading its module the first time."""
        module = TRANSPORTS.get(name)
        if module is None:
            raise ConfigError("edge config", "meters[].transport",
                              f"no driver for transport {name!r}; known: {', '.join(TRANSPORTS)}")
        if module not in self.transports:
            self.transports[module] = cast("Transport", importlib.import_module(module).open_transport(
                self.config, self.buffer))
        return self.transports[module]

    def loaded(self, name: str) -> Transport | None:
        """The transport of a meter transport name if it is loaded (nothing is imported)."""
        module = TRANSPORTS.get(name)
        return None if module is None else self.transports.get(module)

    def make(self, meter: MeterConfig) -> Driver:
        """A new driver for ``meter``, not yet registered; raises ConfigError."""
        return self.transport(meter.transport).make(meter)

    def put(self, driver: Driver) -> None:
        self._drivers[driver.meter.serial] = driver

    def pop(self, serial: str) -> Driver | None:
        return self._drivers.pop(serial, None)

    def set_meters(self, config: EdgeConfig) -> None:
        """A new meter list (pushed by the cloud): transports loaded later start with it; loaded
        ones are told. Drivers are replaced by the caller (``pop``, ``put``)."""
        self.config = config
        for transport in self.transports.values():
            transport.set_meters(config.meters)

    # --- edge/drivers/base.py Drivers -------------------------------------------------------
    def driver(self, serial: str) -> Driver | None:
        return self._drivers.get(serial)

    def drivers(self) -> list[Driver]:
        return [self._drivers[m.serial] for m in self.config.meters if m.serial in self._drivers]

    def statuses(self) -> list[DeviceStatus]:
        summaries: dict[str, GapSummary] = {}
        out = []
        for driver in self.drivers():
            module = TRANSPORTS[driver.meter.transport]
            if module not in summaries:
                summaries[module] = self.transports[module].gap_summary()
            out.append(driver.status(summaries[module]))
        return out

    def link_status(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for transport in self.transports.values():
            out.update(transport.link_status())
        return out

    def log_fields(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for transport in self.transports.values():
            out.update(transport.log_fields())
        return out

    def close(self) -> None:
        for transport in self.transports.values():
            transport.close()
