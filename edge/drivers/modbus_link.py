"""One Modbus connection, used strictly one request at a time: a TCP socket to a device or
gateway, or an RS-485 bus on a serial port (Modbus RTU through pyserial). Several units may
share a link; a request sequence that must not be interleaved (write an archive request, read
the record) holds the link's lock for its whole length. Tests: tests/integration/test_edge_rtu.py.
"""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.framer import FramerType


class LinkDown(Exception):
    """The link could not be opened (connection refused, serial port missing)."""


class ModbusLink:
    def __init__(self, client: ModbusBaseClient, name: str, reset_on_error: bool) -> None:
        self.client = client
        self.name = name
        self.lock = asyncio.Lock()
        self.reset_on_error = reset_on_error

    @classmethod
    def tcp(cls, host: str, port: int, timeout: float = 3.0) -> ModbusLink:
        # no pymodbus background reconnect: the poller decides when to try again (its backoff)
        return cls(AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=1, reconnect_delay=0),
                   f"tcp:{host}:{port}", reset_on_error=True)

    @classmethod
    def rtu(cls, port: str, baudrate: int = 9600, timeout: float = 1.0) -> ModbusLink:
        """A serial bus. pymodbus's async RTU client knows a response is complete from its length (no
        wait for a timeout) and sends the next request as soon as it is asked: it does not itself keep
        the 3.5-character silence between frames (bench/rs485.py measures ~2 ms from a response
        to the next request; at 9600 baud the silence is 3.6 ms)."""
        client = AsyncModbusSerialClient(port, framer=FramerType.RTU, baudrate=baudrate, timeout=timeout, retries=1,
                                         reconnect_delay=0)
        return cls(client, f"rtu:{port}@{baudrate}", reset_on_error=False)

    async def ensure(self) -> None:
        if not self.client.connected and not await self.client.connect():
            raise LinkDown(f"{self.name}: cannot open the link")

    def reset(self) -> None:
        """After a failed request: a TCP link reconnects next time (the device may have restarted);
        a serial bus stays open, since one silent unit says nothing about the others on it."""
        if self.reset_on_error:
            self.client.close()

    def close(self) -> None:
        self.client.close()
