"""USB storage pieces that need no block device: tables, superblocks, rules, safe writes."""

import os
import subprocess

import pytest

from tests.conftest import need_tool
from wpbxd.errors import ValidationError
from wpbxd.hw import areas, storage


def test_mbr_round_trips_and_refuses_what_does_not_fit(tmp_path):
    image = tmp_path / "disk.img"
    total = 131072
    image.write_bytes(storage.mbr(total, [(2048, 60000, 0x83), (63488, 67584, 0x83)]) + bytes(1024))
    assert storage.read_mbr(image) == [(2048, 60000, 0x83), (63488, 67584, 0x83)]
    assert storage.partition_table(image) == "dos"
    with pytest.raises(ValidationError, match="does not fit"):
        storage.mbr(total, [(2048, total, 0x83)])
    with pytest.raises(ValidationError, match="4 partitions"):
        storage.mbr(total, [(2048 * (i + 1), 10, 0x83) for i in range(5)])


def test_partition_table_kinds(tmp_path):
    gpt = tmp_path / "gpt.img"
    gpt.write_bytes(bytes(510) + b"\x55\xaa" + b"EFI PART" + bytes(504))
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(4096))
    assert storage.partition_table(gpt) == "gpt"
    assert storage.partition_table(blank) is None
    assert storage.partition_table(tmp_path / "absent") is None


def test_ext4_label_is_read_from_the_superblock(tmp_path):
    need_tool("mkfs.ext4")
    image = tmp_path / "fs.img"
    with open(image, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", storage.STORAGE_LABEL, str(image)], check=True)
    assert storage.detect_filesystem(image) == ("ext4", storage.STORAGE_LABEL)
    assert storage.partition_table(image) is None  # a filesystem, not a table


def test_partition_names_follow_the_kernel():
    assert storage.partition_name("sdb", 1) == "sdb1"
    assert storage.partition_name("loop3", 2) == "loop3p2"
    assert storage.partition_name("nvme0n1", 1) == "nvme0n1p1"


def test_rules_usb_by_bus_path_and_by_name():
    usb = "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
    sata = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
    assert storage.UsbRule().accepts("sdb", usb, {})
    assert not storage.UsbRule().accepts("sda", sata, {})
    assert storage.UsbRule().accepts("sdc", sata, {"ID_BUS": "usb"})
    assert storage.rule_from_text("name:loop*").accepts("loop7", "/sys/devices/virtual/block/loop7", {})
    with pytest.raises(ValidationError):
        storage.rule_from_text("anything")


def test_area_write_is_whole_or_nothing_when_storage_moves(tmp_path):
    data = tmp_path / "pbx"
    areas.ensure_areas(data)
    done = areas.write_file(data, "voicemail", "101/msg1.wav", [b"a" * 1000, b"b" * 1000])
    assert done.read_bytes() == b"a" * 1000 + b"b" * 1000
    key = tmp_path / "key"
    for area in areas.AREAS:
        (key / area).mkdir(parents=True)

    def chunks():
        yield b"first half"
        areas.point_storage_at(data, key)  # the key appears (or goes) mid-write
        yield b"second half"

    with pytest.raises(areas.AreaWriteError, match="not saved"):
        areas.write_file(data, "voicemail", "101/msg2.wav", chunks())
    leftovers = [p for p in data.rglob("*") if p.is_file() and "msg2" in p.name]
    assert leftovers == [] and not list(key.rglob("msg2*"))
    with pytest.raises(ValueError):
        areas.write_file(data, "voicemail", "../escape", [b""])


def test_merge_moves_internal_files_onto_the_key_without_overwriting(tmp_path):
    internal, key = tmp_path / "internal", tmp_path / "key"
    (internal / "voicemail" / "101").mkdir(parents=True)
    (internal / "voicemail" / "101" / "new.wav").write_bytes(b"new")
    (internal / "voicemail" / "101" / "same.wav").write_bytes(b"internal copy")
    (internal / "voicemail" / "101" / "cut.wav.partial").write_bytes(b"half")
    (key / "voicemail" / "101").mkdir(parents=True)
    (key / "voicemail" / "101" / "same.wav").write_bytes(b"key copy")
    assert storage.merge_into(internal, key) == 1
    assert (key / "voicemail" / "101" / "new.wav").read_bytes() == b"new"
    assert (key / "voicemail" / "101" / "same.wav").read_bytes() == b"key copy"
    assert (internal / "voicemail" / "101" / "same.wav").exists()  # kept, not lost
    assert not (key / "voicemail" / "101" / "cut.wav.partial").exists()
    assert sorted(os.listdir(internal / "voicemail" / "101")) == ["cut.wav.partial", "same.wav"]
