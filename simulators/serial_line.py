"""A simulated RS-485 line: two pseudo-terminals joined back to back (a virtual null modem).

The device side is opened by pymodbus's serial server (Modbus RTU, several unit ids on one
bus); the other side's path (``/dev/pts/N``) is what the edge opens with pyserial, as it
would open ``/dev/ttyUSB0`` in the field. Bytes are copied both ways on the event loop, as
``socat pty,raw pty,raw`` would do. Linux/POSIX only. Tests: tests/integration/test_sim_rtu.py.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import tty
from collections.abc import Callable

from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import SimDevice

from protocol.crc import crc16_modbus
from simulators.karat307 import device_exception

log = logging.getLogger(__name__)


class NullModem:
    """Two raw pseudo-terminals whose masters are joined: what one side writes, the other reads."""

    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        paths = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline: Modbus RTU is binary
            os.set_blocking(master, False)
            self._masters.append(master)
            self._slaves.append(slave)  # kept open so the line never hangs up between clients
            paths.append(os.ttyname(slave))
        self.device_port, self.edge_port = paths
        self._loop: asyncio.AbstractEventLoop | None = None
        self.copied = [0, 0]  # bytes device -> edge, edge -> device

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        device, edge = self._masters
        self._loop.add_reader(device, self._copy, device, edge, 0)
        self._loop.add_reader(edge, self._copy, edge, device, 1)

    def _copy(self, src: int, dst: int, direction: int) -> None:
        try:
            data = os.read(src, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # the other side closed its end; wait for it to reopen
                return
            raise
        self._forward(dst, data, direction)

    def _forward(self, dst: int, data: bytes, direction: int) -> None:
        """Pass what one side wrote to the other at once (a paced line delays it: bench/rs485.py)."""
        self._write(dst, data)
        self.copied[direction] += len(data)

    def _write(self, dst: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(dst, view):]
            except BlockingIOError:
                log.warning("event=serial_overrun dropped=%d", len(view))  # as on a real line: lost
                break

    def close(self) -> None:
        if self._loop is not None:
            for fd in self._masters:
                self._loop.remove_reader(fd)
        for fd in self._masters + self._slaves:
            os.close(fd)
        self._masters, self._slaves = [], []


def rtu_server(devices: list[SimDevice], line: NullModem, baudrate: int = 9600,
               silent: Callable[[int], bool] = lambda _unit: False) -> ModbusSerialServer:
    """A Modbus RTU server on the device side of ``line`` answering for each device's unit id;
    ``silent(unit)`` true means that unit is offline (a scenario fault) and does not answer."""
    units = {d.id for d in devices}

    last_request: list[int] = [0]  # function code of the request on the line (one at a time on a bus)

    def silence_missing_units(sending: bool, packet: bytes) -> bytes:
        # A request for a unit id nobody on the bus has gets no answer at all, as on a real RS-485
        # line (pymodbus's SimDevice context would answer exception 04 for it).
        if not sending:
            if len(packet) >= 2:
                last_request[0] = packet[1]
            return packet
        if packet and (packet[0] not in units or silent(packet[0])):
            return b""
        if len(packet) >= 5 and packet[1] == 0x80 and 0 < last_request[0] < 0x80:
            body = bytes([packet[0]]) + device_exception(last_request[0])  # fc + 0x80, as a device answers
            return body + crc16_modbus(body).to_bytes(2, "little")
        return packet

    return ModbusSerialServer(devices, port=line.device_port, baudrate=baudrate, timeout=1,
                              trace_packet=silence_missing_units)
