"""The Modbus transport (TCP and RTU alike): one link per TCP endpoint or serial bus, shared by
the units on it, and one poller per meter (edge/drivers/modbus_tcp.py), chosen by model.

Loaded by the agent only when a Modbus meter is configured (it imports pymodbus).
Tests: tests/integration/test_edge_rtu.py, test_edge_drivers.py.
"""

from __future__ import annotations

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.base import GapSummary, Job, Transport
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from protocol.settings import ConfigError

# model -> poller; explicit, no discovery (STYLE.md habit 4)
POLLERS: dict[str, type[Karat307Poller]] = {"KARAT-307": Karat307Poller, "KARAT-306": Karat307Poller}


class ModbusTransport:
    """Builds a poller per Modbus meter on the link it shares with its neighbours."""

    def __init__(self, config: EdgeConfig, buffer: Buffer) -> None:
        self.config = config
        self.buffer = buffer
        self.links: dict[tuple[str, ...], ModbusLink] = {}  # one per TCP endpoint or serial bus
        self.gaps = GapBook(buffer, config.poll_interval_s, config.gap_backoff_max_s)

    def make(self, meter: MeterConfig) -> Karat307Poller:
        poller_cls = POLLERS.get(meter.model)
        if poller_cls is None:
            raise ConfigError("edge config", f"meters[{meter.serial}].model",
                              f"no Modbus driver for model {meter.model!r}; known: {', '.join(POLLERS)}")
        return poller_cls(meter, self.config, self.buffer, Karat307Client(self._link(meter), meter.unit))

    def _link(self, meter: MeterConfig) -> ModbusLink:
        if meter.transport == "modbus-rtu":
            key: tuple[str, ...] = ("rtu", meter.serial_port)
            if key in self.links and self.links[key].name != f"rtu:{meter.serial_port}@{meter.baudrate}":
                raise ConfigError("edge config", f"meters[{meter.serial}].baudrate",
                                  f"the bus on {meter.serial_port} already runs at another baudrate")
            return self.links.setdefault(key, ModbusLink.rtu(meter.serial_port, meter.baudrate))
        key = ("tcp", meter.host, str(meter.port))
        return self.links.setdefault(key, ModbusLink.tcp(meter.host, meter.port))

    def set_meters(self, meters: list[MeterConfig]) -> None:
        """Nothing to do: each poller carries its own meter."""

    def jobs(self) -> list[tuple[str, Job]]:
        return []  # every meter polls on its own (Karat307Poller.job)

    def gap_summary(self) -> GapSummary:
        return self.gaps.summary()

    def link_status(self) -> dict[str, object]:
        return {}

    def log_fields(self) -> dict[str, object]:
        return {"modbus_links": len(self.links)}

    def close(self) -> None:
        for link in self.links.values():
            link.close()


def open_transport(config: EdgeConfig, buffer: Buffer) -> Transport:
    """The registry's entry point (edge/drivers/registry.py); typed so mypy checks the protocol."""
    return ModbusTransport(config, buffer)
