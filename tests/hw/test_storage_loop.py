"""USB storage with real block devices: loop devices, kernel uevents, ext4, mount.

Seed chapter "Services de stockage": list (table, size, usage), initialize after
confirmation with progress, the data areas move to the key; the key pulled while
voicemail is being written: loud warning, internal storage takes over, writes in
progress fail cleanly, nothing already written is lost, the daemon lives; the key
plugged back is used again with what was written meanwhile.
"""

import hashlib
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import need_root, need_tool
from tests.hw.loopdisk import LoopDisk
from wpbxd.console import client
from wpbxd.hw import areas

WAIT = 20.0  # seconds for the daemon to react to a device event


@pytest.fixture
def key(tmp_path):
    need_root()
    need_tool("losetup", "partx", "mkfs.ext4", "mount", "umount", "chattr")
    disk = LoopDisk(tmp_path / "key.img", size_mb=64)
    yield disk
    disk.cleanup()


def wait_for(predicate, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class VoicemailWriter(threading.Thread):
    """Writes 256 KiB messages through ``areas.write_file``, like a voicemail recorder."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(daemon=True)
        self.data_dir = data_dir
        self.stop = threading.Event()
        self.saved: dict[str, str] = {}     # relpath -> sha256
        self.failed: list[str] = []
        self.count = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            relpath = f"101/msg{self.count:04d}.wav"
            body = os.urandom(256 * 1024)
            try:
                areas.write_file(self.data_dir, "voicemail", relpath,
                                 (body[i:i + 16384] for i in range(0, len(body), 16384)))
            except areas.AreaWriteError as err:
                self.failed.append(f"{relpath}: {err}")
            else:
                self.saved[relpath] = hashlib.sha256(body).hexdigest()
            time.sleep(0.02)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_key_initialized_used_pulled_during_writes_and_plugged_back(wpbxd, key):
    data = wpbxd.data_dir
    wpbxd.ctl("storage", "rule", f"name:{key.name}")
    listed = json.loads(wpbxd.ctl("storage", "list", "--json").stdout)
    assert listed["status"]["storage"] == "internal"
    [disk] = listed["disks"]
    assert disk["name"] == key.name and disk["size"] == 64 * 1024 * 1024 and disk["table"] is None
    areas.write_file(data, "voicemail", "101/before-key.wav", [b"left internally"])

    refused = wpbxd.ctl("storage", "initialize", key.name, check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    unconfirmed = list(client.stream(data, "storage.initialize", {"device": key.name}))
    assert unconfirmed == [{"error": f"confirm: initializing erases /dev/{key.name}: confirm with its name"}]
    elsewhere = list(client.stream(data, "storage.initialize", {"device": "sda", "confirm": "sda"}))
    assert "no storage device 'sda'" in elsewhere[0]["error"]  # the rule guards other disks
    out = wpbxd.ctl("storage", "initialize", key.name, "--yes").stdout
    assert "creating an ext4 filesystem" in out and "[100%] done" in out
    status = wpbxd.call("storage.status")
    assert status["storage"] == "usb" and status["root"] == str(data / "usb")
    assert (data / "usb" / "voicemail" / "101" / "before-key.wav").read_bytes() == b"left internally"
    [disk] = wpbxd.call("storage.list")["disks"]
    [part] = disk["partitions"]
    assert disk["table"] == "dos" and part["fstype"] == "ext4" and part["label"] == "WPBX-STORAGE"
    assert part["mountpoint"] == str(data / "usb") and 0 < part["used"] < part["total"]
    assert "WPBX-STORAGE" in wpbxd.ctl("storage", "list").stdout

    writer = VoicemailWriter(data)
    writer.start()
    wait_for(lambda: len(writer.saved) >= 3, "three messages on the key")
    os.sync()
    on_key_before = dict(writer.saved)
    key.pull()
    wait_for(lambda: wpbxd.call("storage.status")["storage"] == "internal", "the switch to internal storage")
    after_switch = len(writer.saved)
    wait_for(lambda: len(writer.saved) >= after_switch + 3, "messages saved internally")
    writer.stop.set()
    writer.join(10)
    print(f"saved {len(writer.saved)}, failed {len(writer.failed)}: {writer.failed[:2]}")
    assert "USB STORAGE LOST" in wpbxd.log()
    assert wpbxd.call("status")["storage"]["storage"] == "internal"  # the daemon lives
    internal = areas.internal_root(data) / "voicemail"
    saved_internally = {p.relative_to(internal).as_posix(): sha(p) for p in internal.rglob("*.wav")}
    assert saved_internally and all(writer.saved[k] == v for k, v in saved_internally.items())
    assert not list(internal.rglob("*.partial"))

    wait_for(lambda: str(data / "usb") not in Path("/proc/self/mounts").read_text(), "the lazy unmount")
    key.detach()
    key.plug()
    wait_for(lambda: wpbxd.call("storage.status")["storage"] == "usb", "the key in use again")
    on_key = data / "usb" / "voicemail"
    for relpath, digest in {**on_key_before, **saved_internally}.items():
        assert sha(on_key / relpath) == digest, relpath  # nothing already written is lost
    for path in on_key.rglob("*"):
        if path.is_file() and path.name.startswith("msg"):
            rel = path.relative_to(on_key).as_posix()
            assert writer.saved.get(rel) == sha(path), f"{rel} is torn or was never reported saved"
    assert not list(internal.rglob("*.wav"))  # moved onto the key


def test_factory_reset_at_the_boot_menu_wipes_the_key_when_it_is_mounted_next(wpbxd_factory, key):
    from wpbxd.config.store import Store
    from wpbxd.console import recovery

    pbx = wpbxd_factory()
    data = pbx.data_dir
    pbx.ctl("storage", "rule", f"name:{key.name}")
    pbx.ctl("storage", "initialize", key.name, "--yes")
    areas.write_file(data, "voicemail", "101/msg0001.wav", [b"old message"])
    areas.write_file(data, "backups", "keep-me.tar.gz", [b"a backup"])
    pbx.stop()
    subprocess.run(["umount", str(data / "usb")], check=True)  # as a reboot does
    store = Store(data / "wpbx.db")  # what the serial boot menu does before the services start
    recovery.factory_reset(store, None, data)
    # the reset brought the rule back to 'usb'; the loop device stands in for the USB key again
    store.execute("INSERT INTO storage_config(id, device_rule) VALUES (1, ?)", (f"name:{key.name}",))
    store.close()
    again = wpbxd_factory(data_dir=data)
    status = again.call("storage.status")
    assert status["storage"] == "usb"
    assert not (data / "usb" / "voicemail" / "101").exists()
    assert (data / "usb" / "backups" / "keep-me.tar.gz").read_bytes() == b"a backup"
    assert not (data / areas.WIPE_MARKER).exists()
    # the wiped entries are the voicemail folder and whatever else the areas held (e.g. generated prompts)
    assert re.search(r"factory reset: [1-9]\d* entries removed from the USB key", again.log())
