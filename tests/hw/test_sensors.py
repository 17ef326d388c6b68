"""Board sensors through a fake I2C bus with smbus2's interface (no I2C on these machines)."""

import json
import logging

import pytest

from wpbxd.errors import ValidationError
from wpbxd.hw import sensors
from wpbxd.hw.sensors import Reading, SensorReader, SensorSpec, load_board, parse_board


class FakeBus:
    """Registers per address; a missing address raises like the kernel (ENXIO)."""

    def __init__(self, chips: dict[int, dict[int, int]]) -> None:
        self.chips = chips
        self.closed = False

    def _chip(self, address: int) -> dict[int, int]:
        if address not in self.chips:
            raise OSError(6, "No such device or address")
        return self.chips[address]

    def read_byte_data(self, address: int, register: int) -> int:
        return self._chip(address)[register]

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        chip = self._chip(address)
        return [chip[register + i] for i in range(length)]

    def close(self) -> None:
        self.closed = True


def lm75(word: int) -> dict[int, int]:
    return {0: word >> 8, 1: word & 0xFF}


@pytest.mark.parametrize("word,celsius", [
    (0x7D00, 125.0), (0x1900, 25.0), (0x0080, 0.5), (0x0000, 0.0), (0xFF80, -0.5), (0xE700, -25.0),
    (0xC900, -55.0),
])
def test_lm75_temperatures_match_the_datasheet_table(word, celsius):
    bus = FakeBus({0x48: lm75(word)})
    assert sensors.read_lm75(bus, SensorSpec("board", "lm75", 1, 0x48)) == [
        Reading("board", "temperature", celsius, "°C")]


def test_emc2101_gives_temperature_and_fan_rpm():
    bus = FakeBus({0x4C: {0x00: 41, 0x46: 0x8C, 0x47: 0x0A}})
    readings = sensors.read_emc2101(bus, SensorSpec("cpu", "emc2101", 0, 0x4C))
    assert readings == [Reading("cpu", "temperature", 41.0, "°C"), Reading("cpu fan", "fan", 2000.0, "rpm")]
    stalled = FakeBus({0x4C: {0x00: 0xF6, 0x46: 0xFF, 0x47: 0xFF}})
    assert [r.value for r in sensors.read_emc2101(stalled, SensorSpec("cpu", "emc2101", 0, 0x4C))] == [-10.0, 0.0]


def test_reader_closes_buses_and_reports_a_chip_that_does_not_answer():
    buses = []

    def open_bus(number):
        buses.append(FakeBus({0x48: lm75(0x1900)}))
        return buses[-1]

    specs = [SensorSpec("board", "lm75", 1, 0x48), SensorSpec("psu", "lm75", 1, 0x49)]
    readings = SensorReader(specs, open_bus).read()
    assert readings[0].value == 25.0
    assert readings[1].value is None and "0x49" in readings[1].error
    assert len(buses) == 1 and buses[0].closed


def test_missing_i2c_bus_is_said_once_and_the_reader_carries_on(caplog):
    def no_bus(number):
        raise FileNotFoundError(2, "No such file or directory", f"/dev/i2c-{number}")

    reader = SensorReader([SensorSpec("board", "lm75", 1, 0x48)], no_bus)
    with caplog.at_level(logging.INFO, logger="wpbxd.hw.sensors"):
        first, second = reader.read(), reader.read()
    assert first == second == [Reading("board", "temperature", None, "", "no I2C bus 1")]
    assert sum("no I2C bus 1" in r.getMessage() for r in caplog.records) == 1


def test_board_file_is_read_and_checked(tmp_path):
    board = tmp_path / "board.toml"
    board.write_text('[[sensor]]\nname = "cpu"\nchip = "EMC2101"\nbus = 0\naddress = 0x4c\n')
    specs, source = load_board((tmp_path / "absent.toml", board))
    assert specs == [SensorSpec("cpu", "emc2101", 0, 0x4C)] and source == str(board)
    assert load_board((tmp_path / "absent.toml",))[1] == "built-in"
    with pytest.raises(ValidationError, match="unknown chip 'tmp999'"):
        parse_board([{"name": "x", "chip": "tmp999", "bus": 0, "address": 0x48}])
    with pytest.raises(ValidationError, match="out of range"):
        parse_board([{"name": "x", "chip": "lm75", "bus": 0, "address": 0x90}])
    with pytest.raises(ValidationError, match="needs name"):
        parse_board([{"chip": "lm75"}])
    board.write_text("[[sensor]\n")
    with pytest.raises(ValidationError, match="board.toml"):
        load_board((board,))


def test_wpbxctl_hw_on_a_machine_without_i2c(wpbxd):
    rows = json.loads(wpbxd.ctl("hw", "--json").stdout)
    assert rows and all(r["value"] is None and r["error"].startswith("no I2C bus") for r in rows)
    assert "no I2C bus" in wpbxd.ctl("hw").stdout
    assert wpbxd.call("status")["sensors"]["missing_buses"] == [1]
    assert wpbxd.log().count("no I2C bus 1") == 1
