"""Board sensors on I²C (smbus2): temperatures and fan speeds for the Info page and ``wpbxctl hw``.

A *board file* (TOML) says which chips sit where::

    [[sensor]]
    name = "board"        # shown to the admin
    chip = "lm75"         # lm75 (temperature) or emc2101 (temperature + fan)
    bus = 1               # /dev/i2c-1
    address = 0x48

The built-in board (``DEFAULT_BOARD``) describes the appliance; ``/etc/wpbx/board.toml``
or ``DATA/board.toml`` replace it. Reading goes through a bus object with smbus2's
interface (``read_byte_data``, ``read_i2c_block_data``), so tests use a fake bus.
When a bus does not exist (any PC), the service says so once and carries on.

This module only reads sensors: it never writes a chip register.
"""

import asyncio
import logging
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from wpbxd.errors import ValidationError
from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

LM75_TEMP_REG = 0x00        # 2 bytes, MSB first, 9-bit two's complement in D15..D7
LM75_STEP = 0.5             # °C per LSB of the 9-bit value
EMC2101_INTERNAL_TEMP = 0x00  # °C, signed byte
EMC2101_TACH_LOW, EMC2101_TACH_HIGH = 0x46, 0x47  # read low first: it latches high
EMC2101_TACH_CONSTANT = 5_400_000  # RPM = constant / tach count (datasheet)
EMC2101_STALLED = 0xFFFF
BOARD_PATHS = (Path("/etc/wpbx/board.toml"),)
DEFAULT_BOARD = [
    {"name": "board", "chip": "lm75", "bus": 1, "address": 0x48},
]


class Bus(Protocol):
    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SensorSpec:
    name: str
    chip: str
    bus: int
    address: int


@dataclass(frozen=True)
class Reading:
    name: str
    kind: str            # temperature | fan
    value: float | None
    unit: str            # °C | rpm
    error: str | None = None


def _int8(value: int) -> int:
    return value - 0x100 if value & 0x80 else value


def read_lm75(bus: Bus, spec: SensorSpec) -> list[Reading]:
    msb, lsb = bus.read_i2c_block_data(spec.address, LM75_TEMP_REG, 2)
    raw = (msb << 8) | lsb
    if raw & 0x8000:
        raw -= 0x10000
    return [Reading(spec.name, "temperature", (raw >> 7) * LM75_STEP, "°C")]


def read_emc2101(bus: Bus, spec: SensorSpec) -> list[Reading]:
    temp = _int8(bus.read_byte_data(spec.address, EMC2101_INTERNAL_TEMP))
    low = bus.read_byte_data(spec.address, EMC2101_TACH_LOW)
    high = bus.read_byte_data(spec.address, EMC2101_TACH_HIGH)
    count = (high << 8) | low
    rpm = 0.0 if count in (0, EMC2101_STALLED) else round(EMC2101_TACH_CONSTANT / count)
    return [Reading(spec.name, "temperature", float(temp), "°C"),
            Reading(f"{spec.name} fan", "fan", float(rpm), "rpm")]


CHIPS: dict[str, Callable[[Bus, SensorSpec], list[Reading]]] = {
    "lm75": read_lm75,
    "emc2101": read_emc2101,
}
KINDS = {"lm75": ("temperature",), "emc2101": ("temperature", "fan")}


def parse_board(entries: list[dict[str, Any]]) -> list[SensorSpec]:
    specs = []
    for number, entry in enumerate(entries, 1):
        try:
            spec = SensorSpec(str(entry["name"]), str(entry["chip"]).lower(), int(entry["bus"]),
                              int(entry["address"]))
        except (KeyError, TypeError, ValueError):
            raise ValidationError(f"sensor {number}: needs name, chip, bus and address") from None
        if spec.chip not in CHIPS:
            raise ValidationError(f"sensor {number}: unknown chip {spec.chip!r} (known: {', '.join(CHIPS)})")
        if not 0x03 <= spec.address <= 0x77:
            raise ValidationError(f"sensor {number}: I2C address {spec.address:#x} out of range")
        specs.append(spec)
    return specs


def load_board(paths: tuple[Path, ...]) -> tuple[list[SensorSpec], str]:
    """The first board file found, else the built-in board; and where it came from."""
    for path in paths:
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except (OSError, tomllib.TOMLDecodeError) as err:
                raise ValidationError(f"{path}: {err}") from None
            return parse_board(data.get("sensor", [])), str(path)
    return parse_board(DEFAULT_BOARD), "built-in"


def open_smbus(number: int) -> Bus:
    from smbus2 import SMBus

    return SMBus(number)


class SensorReader:
    """Reads a board's sensors; a missing bus is reported once, then quietly skipped."""

    def __init__(self, specs: list[SensorSpec], open_bus: Callable[[int], Bus] = open_smbus) -> None:
        self.specs = specs
        self.open_bus = open_bus
        self.missing_buses: set[int] = set()

    def read(self) -> list[Reading]:
        readings: list[Reading] = []
        buses: dict[int, Bus | None] = {}
        try:
            for spec in self.specs:
                if spec.bus not in buses:
                    buses[spec.bus] = self._open(spec.bus)
                bus = buses[spec.bus]
                if bus is None:
                    readings += [Reading(spec.name, kind, None, "", f"no I2C bus {spec.bus}")
                                 for kind in KINDS[spec.chip]]
                    continue
                try:
                    readings += CHIPS[spec.chip](bus, spec)
                except OSError as err:
                    readings += [Reading(spec.name, kind, None, "", f"{spec.chip} at {spec.address:#04x}: {err}")
                                 for kind in KINDS[spec.chip]]
        finally:
            for bus in buses.values():
                if bus is not None:
                    bus.close()
        return readings

    def _open(self, number: int) -> Bus | None:
        try:
            bus = self.open_bus(number)
        except (OSError, ImportError) as err:
            if number not in self.missing_buses:
                log.info("sensors: no I2C bus %d (%s); board sensors unavailable", number, err)
                self.missing_buses.add(number)
            return None
        self.missing_buses.discard(number)
        return bus


class SensorsService:
    name = "sensors"

    def __init__(self, ctx: ServiceContext, open_bus: Callable[[int], Bus] = open_smbus) -> None:
        self.ctx = ctx
        self.paths = (*BOARD_PATHS, ctx.config.data_dir / "board.toml")
        specs, self.board_source = load_board(self.paths)
        self.reader = SensorReader(specs, open_bus)
        ctx.control.register("hw.sensors", self._sensors)

    async def start(self) -> None:
        await asyncio.to_thread(self.reader.read)  # says once if there is no bus

    async def stop(self) -> None:
        pass

    def apply(self, config: DaemonConfig) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"board": self.board_source, "sensors": len(self.reader.specs),
                "missing_buses": sorted(self.reader.missing_buses)}

    async def _sensors(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [asdict(r) for r in await asyncio.to_thread(self.reader.read)]
