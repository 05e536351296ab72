"""A real Modbus TCP server for tests and benchmarks: pymodbus 3.16's SimDevice on an event
loop thread of its own, on a free port, restartable on the same port.

    server = ModbusSimServer(holding=[0] * 20, input=[0] * 4)
    server.start(); server.write(0, [1, 2]); server.stop()

Addresses are as on the wire (0-based). Subclasses override :meth:`action`, which sees every
request before it is answered (to slow it down, count it or change the registers it reads).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from ledger.embedded import free_port

__all__ = ["ModbusSimServer"]


class ModbusSimServer:
    def __init__(self, holding: Sequence[int], input: Sequence[int] = (0,)) -> None:
        self.port = free_port()
        self.holding = list(holding)
        self.input = list(input)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None
        self._writer: ModbusTcpClient | None = None

    async def action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: Any
    ) -> ExcCodes | None:
        """Called on every request before it is answered; None answers it as usual."""
        return None

    def start(self, timeout: float = 10.0) -> None:
        """Serve the registers as they are now (``holding``, ``input``)."""
        bits = [SimData(0, count=1, datatype=DataType.BITS)]
        device = SimDevice(
            id=1,
            simdata=(
                bits,
                list(bits),
                [SimData(0, values=list(self.holding), datatype=DataType.REGISTERS)],
                [SimData(0, values=list(self.input), datatype=DataType.REGISTERS)],
            ),
            action=self.action,
        )
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await self._server.serve_forever(background=True)
            ready.set()
            await self._server.serving
            # Requests still being answered (a slow action) end with the server.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_until_complete, args=(serve(),), name="modbus-sim", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"Modbus server did not start within {timeout} s")

    def write(self, address: int, regs: list[int]) -> None:
        """Set holding registers as the PLC program would (through Modbus)."""
        if self._writer is None:
            self._writer = ModbusTcpClient("127.0.0.1", port=self.port, timeout=5)
        answer = self._writer.write_registers(address, regs, device_id=1)
        if answer.isError():
            raise RuntimeError(f"Modbus write at {address}: {answer}")

    def stop(self, timeout: float = 10.0) -> None:
        if self._writer is not None:
            self._writer.close()  # type: ignore[no-untyped-call]
            self._writer = None
        if self._thread is None or self._loop is None or self._server is None:
            return
        shutdown = self._server.shutdown()  # type: ignore[no-untyped-call]
        asyncio.run_coroutine_threadsafe(shutdown, self._loop).result(timeout)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("Modbus server did not stop")
        self._loop.close()
        self._thread = self._loop = self._server = None
