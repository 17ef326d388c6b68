"""USB storage (seed: "Services de stockage"): detect, list, initialize, mount, fall back.

Responsibilities:
- list block devices accepted by the *storage rule* with their partition table,
  size, partitions, filesystem, label and usage (the seed's "Périphériques de
  stockage" table), reading ``/sys``, the devices' first sectors and
  ``/proc/self/mounts`` (no udev database needed);
- **initialize** a device after confirmation (wipe, MBR with one Linux partition,
  ext4 labelled ``WPBX-STORAGE``), reporting progress; **add a partition** in the
  free space after the last one;
- mount the storage partition at a fixed place (``DATA/usb``) and point the data
  areas there (``areas.point_storage_at``), moving files written internally while
  no key was present onto the key;
- on removal (kernel ``remove``, or a ``change`` to size 0), warn loudly, point the
  areas back to internal storage and detach the mount lazily: writes in progress
  fail, files already on internal storage stay, the daemon carries on.

The device event source (``UdevEventSource``: pyudev, kernel uevents) and the
"is this USB storage?" rule (``UsbRule``; ``NameRule`` for loop devices in tests)
are injectable. Blocking work (mkfs, mount, copying) runs in threads, never on the
loop. This module never touches a device the rule did not accept.
"""

import asyncio
import contextlib
import errno
import fcntl
import fnmatch
import logging
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.hw import areas
from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

STORAGE_LABEL = "WPBX-STORAGE"
MOUNT_DIR = "usb"
MOUNT_OPTIONS = "noatime,nodev,nosuid,noexec"
SECTOR = 512                      # bytes
FIRST_SECTOR = 2048               # 1 MiB alignment for the first partition
WIPE_BYTES = 1024 * 1024          # zeroed at both ends of a device before partitioning
LINUX_PARTITION = 0x83
BLKRRPART = 0x125F                # ioctl: re-read the partition table
PARTITION_WAIT = 5.0              # seconds for the kernel to show a new partition node
COMMAND_TIMEOUT = 600.0           # seconds for mkfs on a large key
RESCAN_DELAY = 0.2                # seconds to let a disk's partitions show up after it
EXT_MAGIC_OFFSET, EXT_MAGIC = 1024 + 0x38, 0xEF53
EXT_LABEL_OFFSET = 1024 + 0x78
EXT_INCOMPAT_OFFSET = 1024 + 0x60
EXT4_INCOMPAT_EXTENTS = 0x40


class StorageError(UserError):
    pass


# -- records ---------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    name: str
    path: str
    number: int
    size: int                     # bytes
    fstype: str | None
    label: str | None
    mountpoint: str | None
    used: int | None = None       # bytes, when mounted
    total: int | None = None


@dataclass(frozen=True)
class Disk:
    name: str
    path: str
    size: int                     # bytes
    table: str | None             # dos | gpt | None
    removable: bool
    model: str
    partitions: tuple[Partition, ...] = field(default=())


@dataclass(frozen=True)
class DeviceEvent:
    action: str                   # add | remove | change
    name: str                     # kernel name, e.g. sdb, sdb1, loop3p1
    devtype: str                  # disk | partition
    size: int | None = None       # bytes, when the event says


# -- rules -----------------------------------------------------------------------
class StorageRule(Protocol):
    def accepts(self, name: str, sys_path: str, properties: dict[str, str]) -> bool: ...


class UsbRule:
    """A disk on a USB bus (udev's ID_BUS, else the kernel's device path)."""

    def accepts(self, name: str, sys_path: str, properties: dict[str, str]) -> bool:
        return properties.get("ID_BUS") == "usb" or "/usb" in sys_path


@dataclass(frozen=True)
class NameRule:
    """Disks whose kernel name matches a glob (loop devices in tests, ``sd?``...)."""

    pattern: str

    def accepts(self, name: str, sys_path: str, properties: dict[str, str]) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


def rule_from_text(text: str) -> StorageRule:
    """``usb`` (default) or ``name:GLOB``."""
    if text == "usb":
        return UsbRule()
    if text.startswith("name:") and len(text) > 5 and "/" not in text:
        return NameRule(text[5:])
    raise ValidationError("must be 'usb' or 'name:GLOB' (e.g. name:sd?)", "rule")


# -- reading devices ---------------------------------------------------------------
def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def detect_filesystem(path: str | Path) -> tuple[str | None, str | None]:
    """(fstype, label) from the superblock; (None, None) when unknown or unreadable."""
    try:
        with open(path, "rb") as dev:
            head = dev.read(4096)
    except OSError:
        return None, None
    if len(head) >= 2048 and struct.unpack_from("<H", head, EXT_MAGIC_OFFSET)[0] == EXT_MAGIC:
        incompat = struct.unpack_from("<I", head, EXT_INCOMPAT_OFFSET)[0]
        label = head[EXT_LABEL_OFFSET:EXT_LABEL_OFFSET + 16].split(b"\0")[0].decode(errors="replace")
        return ("ext4" if incompat & EXT4_INCOMPAT_EXTENTS else "ext2/3"), (label or None)
    if len(head) >= 90 and head[510:512] == b"\x55\xaa":
        if head[82:90] == b"FAT32   ":
            return "vfat", head[71:82].decode(errors="replace").strip() or None
        if head[54:59] in (b"FAT12", b"FAT16"):
            return "vfat", head[43:54].decode(errors="replace").strip() or None
        if head[3:11] == b"NTFS    ":
            return "ntfs", None
        if head[3:11] == b"EXFAT   ":
            return "exfat", None
    return None, None


def partition_table(path: str | Path) -> str | None:
    try:
        with open(path, "rb") as dev:
            head = dev.read(1024)
    except OSError:
        return None
    if len(head) < 1024:
        return None
    if head[512:520] == b"EFI PART":
        return "gpt"
    if head[510:512] == b"\x55\xaa" and detect_filesystem(path)[0] is None:
        return "dos"
    return None


def mbr(total_sectors: int, partitions: list[tuple[int, int, int]]) -> bytes:
    """A DOS partition table: ``(first sector, sectors, type)`` per partition (4 at most)."""
    if len(partitions) > 4:
        raise ValidationError("a DOS partition table holds 4 partitions at most")
    sector = bytearray(SECTOR)
    for index, (start, count, kind) in enumerate(partitions):
        if start < 1 or count < 1 or start + count > total_sectors:
            raise ValidationError(f"partition {index + 1} does not fit on the device")
        # CHS fields hold the "beyond CHS" marker: every modern system reads the LBA fields
        sector[446 + 16 * index: 462 + 16 * index] = struct.pack(
            "<B3sB3sII", 0, b"\xfe\xff\xff", kind, b"\xfe\xff\xff", start, count)
    sector[440:444] = os.urandom(4)  # disk signature
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def read_mbr(path: str | Path) -> list[tuple[int, int, int]]:
    with open(path, "rb") as dev:
        sector = dev.read(SECTOR)
    if sector[510:512] != b"\x55\xaa":
        return []
    found = []
    for index in range(4):
        _, _, kind, _, start, count = struct.unpack_from("<B3sB3sII", sector, 446 + 16 * index)
        if kind and count:
            found.append((start, count, kind))
    return found


def partition_name(disk: str, number: int) -> str:
    return f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}"


def mounts() -> dict[str, str]:
    """Device path -> mount point, from /proc/self/mounts."""
    found: dict[str, str] = {}
    for line in _read(Path("/proc/self/mounts")).splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("/dev/"):
            found.setdefault(parts[0], parts[1].replace("\\040", " "))
    return found


def read_disk(name: str, sys_root: Path = Path("/sys")) -> Disk:
    base = sys_root / "class" / "block" / name
    if not base.exists():
        raise NotFound(f"no block device {name!r}")
    mounted = mounts()
    parts = []
    for child in sorted(base.iterdir()):
        if not (child / "partition").exists():
            continue
        path = f"/dev/{child.name}"
        fstype, label = detect_filesystem(path)
        mountpoint = mounted.get(path)
        used = total = None
        if mountpoint:
            with contextlib.suppress(OSError):
                st = os.statvfs(mountpoint)
                total = st.f_blocks * st.f_frsize
                used = (st.f_blocks - st.f_bfree) * st.f_frsize
        parts.append(Partition(child.name, path, int(_read(child / "partition", "0")),
                               int(_read(child / "size", "0")) * SECTOR, fstype, label, mountpoint, used, total))
    parts.sort(key=lambda p: p.number)
    model = _read(base / "device" / "model") or _read(base / "device" / "vendor")
    return Disk(name, f"/dev/{name}", int(_read(base / "size", "0")) * SECTOR,
                partition_table(f"/dev/{name}"), _read(base / "removable") == "1", model, tuple(parts))


def list_disks(rule: StorageRule, sys_root: Path = Path("/sys")) -> list[Disk]:
    disks = []
    block = sys_root / "class" / "block"
    for entry in sorted(block.iterdir()) if block.is_dir() else []:
        if (entry / "partition").exists():
            continue
        sys_path = os.path.realpath(entry)
        if rule.accepts(entry.name, sys_path, {}) and int(_read(entry / "size", "0")) > 0:
            disks.append(read_disk(entry.name, sys_root))
    return disks


# -- changing devices ---------------------------------------------------------------
def _run(argv: list[str]) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        raise StorageError(f"{argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise StorageError(f"{argv[0]} did not finish within {COMMAND_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        raise StorageError(f"{' '.join(argv[:2])} failed: {(result.stderr or result.stdout).strip()[-300:]}")


def reread_partitions(disk: Disk) -> None:
    """Tell the kernel about the new table (BLKRRPART, else partx for loop devices)."""
    fd = os.open(disk.path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, BLKRRPART)
        return
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTTY, errno.EBUSY):
            raise
    finally:
        os.close(fd)
    with contextlib.suppress(StorageError):
        _run(["partx", "-d", disk.path])
    if read_mbr(disk.path):
        _run(["partx", "-a", disk.path])


def wait_for_node(path: str, timeout: float = PARTITION_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise StorageError(f"the kernel did not create {path}")
        time.sleep(0.05)


Progress = Callable[[int, str], None]


def initialize_disk(disk: Disk, progress: Progress) -> str:
    """Wipe, one Linux partition, ext4 ``WPBX-STORAGE``; returns the partition's path."""
    for part in disk.partitions:
        if part.mountpoint:
            progress(5, f"unmounting {part.path}")
            _run(["umount", part.path])
    progress(10, "wiping the old partition table")
    total = disk.size // SECTOR
    if total < FIRST_SECTOR * 4:
        raise StorageError(f"{disk.path} is too small ({disk.size} bytes)")
    with open(disk.path, "r+b") as dev:
        dev.write(bytes(WIPE_BYTES))
        dev.seek(disk.size - WIPE_BYTES)
        dev.write(bytes(WIPE_BYTES))
        dev.seek(0)
        progress(20, "writing a DOS partition table with one Linux partition")
        dev.write(mbr(total, [(FIRST_SECTOR, total - FIRST_SECTOR, LINUX_PARTITION)]))
        dev.flush()
        os.fsync(dev.fileno())
    progress(30, "reading the new partition table")
    reread_partitions(disk)
    part = f"/dev/{partition_name(disk.name, 1)}"
    wait_for_node(part)
    progress(40, f"creating an ext4 filesystem on {part}")
    _run(["mkfs.ext4", "-F", "-q", "-L", STORAGE_LABEL, part])
    progress(90, "filesystem ready")
    return part


def add_partition(disk: Disk, size: int | None, progress: Progress) -> str:
    """A new ext4 partition after the last one (``size`` bytes, or all the free space)."""
    table = read_mbr(disk.path)
    if not table:
        raise StorageError(f"{disk.path} has no DOS partition table: initialize it first")
    if len(table) >= 4:
        raise StorageError(f"{disk.path} already has 4 partitions")
    total = disk.size // SECTOR
    first = max(start + count for start, count, _ in table)
    first = (first + FIRST_SECTOR - 1) // FIRST_SECTOR * FIRST_SECTOR
    room = total - first
    count = room if size is None else size // SECTOR
    if count < FIRST_SECTOR or count > room:
        raise StorageError(f"no room for that partition: {room * SECTOR // (1024 * 1024)} MiB free")
    progress(20, "writing the partition table")
    with open(disk.path, "r+b") as dev:
        dev.write(mbr(total, [*table, (first, count, LINUX_PARTITION)]))
        dev.flush()
        os.fsync(dev.fileno())
    reread_partitions(disk)
    part = f"/dev/{partition_name(disk.name, len(table) + 1)}"
    wait_for_node(part)
    progress(50, f"creating an ext4 filesystem on {part}")
    _run(["mkfs.ext4", "-F", "-q", part])
    progress(100, "done")
    return part


def merge_into(source_root: Path, target_root: Path) -> int:
    """Move area files from internal storage onto the key, never overwriting; count them."""
    moved = 0
    for area in areas.AREAS:
        src = source_root / area
        if not src.is_dir():
            continue
        for path in sorted(src.rglob("*")):
            if not path.is_file() or path.name.endswith(areas.PARTIAL_SUFFIX):
                continue
            target = target_root / area / path.relative_to(src)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + areas.PARTIAL_SUFFIX)
            shutil.copy2(path, tmp)
            with open(tmp, "rb+") as done:
                os.fsync(done.fileno())
            os.replace(tmp, target)
            path.unlink()
            moved += 1
    return moved


# -- network shares (backups) -----------------------------------------------------
SHARE_KINDS = ("cifs", "nfs")
SHARE_FIELDS = ("name", "kind", "server", "path", "username", "password", "options")
SHARE_NAME_RE = r"^[A-Za-z0-9._-]{1,40}$"
SERVER_RE = r"^[A-Za-z0-9.:\[\]-]{1,253}$"
PROBE_NAME = ".wpbx-share-test"


@dataclass(frozen=True)
class Share:
    id: int
    name: str
    kind: str
    server: str
    path: str
    username: str
    password: str
    options: str

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["password"] = "********" if self.password else ""
        return data


def validate_share(values: dict[str, Any]) -> dict[str, str]:
    data = {k: str(values.get(k) or "").strip() for k in SHARE_FIELDS}
    if not re.match(SHARE_NAME_RE, data["name"]):
        raise ValidationError("letters, digits, '.', '_' and '-' (40 at most)", "name")
    if data["kind"] not in SHARE_KINDS:
        raise ValidationError("must be cifs (Windows share) or nfs", "kind")
    if not re.match(SERVER_RE, data["server"]):
        raise ValidationError("must be a host name or address", "server")
    if not data["path"] or any(c in data["path"] for c in ",\n\0"):
        raise ValidationError("is required (share name for cifs, exported path for nfs)", "path")
    if data["kind"] == "nfs" and not data["path"].startswith("/"):
        raise ValidationError("an NFS export is an absolute path", "path")
    if any(c in data["options"] for c in " \n\0") or "credentials" in data["options"]:
        raise ValidationError("comma-separated mount options without spaces", "options")
    if any(c in data["username"] + data["password"] for c in ",\n\0"):
        raise ValidationError("may not contain commas or line breaks", "username")
    return data


def share_mount_command(share: Share, mount_point: Path, credentials: Path | None) -> list[str]:
    if share.kind == "cifs":
        source = f"//{share.server}/{share.path.strip('/')}"
        options = [f"credentials={credentials}"] if credentials else ["guest"]
    else:
        source = f"{share.server}:{share.path}"
        options = []
    if share.options:
        options.append(share.options)
    argv = ["mount", "-t", share.kind, source, str(mount_point)]
    return argv + (["-o", ",".join(options)] if options else [])


@contextlib.contextmanager
def mounted_share(share: Share, scratch: Path):
    """Mount a share on a fresh folder under ``scratch`` for the life of the block."""
    scratch.mkdir(parents=True, exist_ok=True)
    mount_point = Path(tempfile.mkdtemp(dir=scratch, prefix=f"share-{share.id}-"))
    credentials = None
    try:
        if share.kind == "cifs" and share.username:
            credentials = mount_point.with_suffix(".cred")
            fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"username={share.username}\npassword={share.password}\n")
        try:
            _run(share_mount_command(share, mount_point, credentials))
        except StorageError as err:
            raise StorageError(f"cannot mount {share.kind} share {share.name!r}: {err}") from None
        try:
            yield mount_point
        finally:
            subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=60)
    finally:
        if credentials is not None:
            credentials.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            mount_point.rmdir()


def check_share(share: Share, scratch: Path) -> str:
    """Mount, write, read back and delete a probe file, unmount; a message for the admin."""
    with mounted_share(share, scratch) as root:
        probe = root / PROBE_NAME
        body = os.urandom(4096)
        try:
            probe.write_bytes(body)
            ok = probe.read_bytes() == body
            probe.unlink()
        except OSError as err:
            raise StorageError(f"share {share.name!r} mounted but not writable: {err.strerror or err}") from None
        if not ok:
            raise StorageError(f"share {share.name!r} gave back other bytes than written")
    return f"share {share.name!r}: mounted, written, read back and cleaned up"


def get_share(store: Any, ref: str | int) -> Share:
    row = store.one("SELECT * FROM storage_shares WHERE name = ? OR id = ?", (str(ref), str(ref)))
    if row is None:
        raise NotFound(f"no share {ref!r}")
    return Share(**dict(row))


# -- events ----------------------------------------------------------------------
class UdevEventSource:
    """Kernel block-device uevents through pyudev (no udev daemon needed)."""

    def __init__(self) -> None:
        self._monitor: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop, callback: Callable[[DeviceEvent], None]) -> None:
        import pyudev

        monitor = pyudev.Monitor.from_netlink(pyudev.Context(), source="kernel")
        monitor.filter_by("block")
        monitor.start()

        def readable() -> None:
            while True:
                device = monitor.poll(timeout=0)
                if device is None:
                    return
                size = device.attributes.get("size") if device.action != "remove" else None
                callback(DeviceEvent(device.action or "", device.sys_name, device.device_type or "",
                                     int(size) * SECTOR if size is not None else None))

        loop.add_reader(monitor.fileno(), readable)
        self._monitor, self._loop = monitor, loop

    def stop(self) -> None:
        if self._monitor is not None and self._loop is not None:
            self._loop.remove_reader(self._monitor.fileno())
            self._monitor = None


# -- service ---------------------------------------------------------------------
class StorageService:
    name = "storage"

    def __init__(self, ctx: ServiceContext, source: Any = None, rule: StorageRule | None = None) -> None:
        self.ctx = ctx
        self.data_dir = ctx.config.data_dir
        self.mount_point = self.data_dir / MOUNT_DIR
        self.source = source or UdevEventSource()
        self._rule_override = rule
        self.active: Partition | None = None   # the mounted storage partition
        self.active_disk: str | None = None
        self.removed_at: float | None = None
        self._lock = asyncio.Lock()
        self._rescan_task: asyncio.Task | None = None
        self._rescan_wanted = False
        control = ctx.control
        control.register("storage.list", self._list)
        control.register("storage.status", lambda args: self.status())
        control.register("storage.rule", self._rule_command)
        control.register("storage.share.list", lambda args: [
            Share(**dict(r)).public() for r in ctx.store.all("SELECT * FROM storage_shares ORDER BY name")])
        control.register("storage.share.add", self._share_add)
        control.register("storage.share.del", self._share_del)
        control.register("storage.share.test", self._share_test)
        control.register_stream("storage.initialize", self._initialize)
        control.register_stream("storage.add_partition", self._add_partition)

    @property
    def rule(self) -> StorageRule:
        if self._rule_override is not None:
            return self._rule_override
        row = self.ctx.store.one("SELECT device_rule FROM storage_config WHERE id = 1")
        return rule_from_text(row["device_rule"] if row else "usb")

    async def start(self) -> None:
        areas.ensure_areas(self.data_dir)
        link = areas.storage_root(self.data_dir)
        if os.path.realpath(link) == os.path.realpath(self.mount_point) and not os.path.ismount(self.mount_point):
            areas.point_storage_at(self.data_dir, areas.internal_root(self.data_dir))  # key gone while down
        loop = asyncio.get_running_loop()
        try:
            self.source.start(loop, self._on_event)
        except (OSError, ImportError) as err:
            log.warning("storage: no device events (%s); USB keys are seen at start only", err)
        await self.rescan()
        (self.data_dir / areas.WIPE_MARKER).unlink(missing_ok=True)  # no key now: nothing more to wipe

    async def stop(self) -> None:
        self.source.stop()
        if self._rescan_task is not None:
            self._rescan_task.cancel()

    def apply(self, config: DaemonConfig) -> None:
        pass

    def describe(self) -> list[str]:
        return [f"storage: {self._where()}"]

    def _where(self) -> str:
        if self.active is not None:
            return f"USB {self.active.path} at {self.mount_point}"
        return f"internal ({areas.internal_root(self.data_dir)})"

    def status(self, args: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"storage": "usb" if self.active else "internal", "where": self._where(),
                "device": self.active.path if self.active else None,
                "root": str(os.path.realpath(areas.storage_root(self.data_dir))),
                "removed_at": self.removed_at}

    # -- events ----------------------------------------------------------------
    def _on_event(self, event: DeviceEvent) -> None:
        gone = event.action == "remove" or (event.action == "change" and event.size == 0)
        if gone and self.active is not None and event.name in (self.active_disk, self.active.name):
            self._removed(f"{event.name} {'removed' if event.action == 'remove' else 'went away (size 0)'}")
            return
        if event.action in ("add", "change") and self.active is None:
            self._rescan_wanted = True
            if self._rescan_task is None or self._rescan_task.done():
                self._rescan_task = asyncio.ensure_future(self._rescan_soon())

    async def _rescan_soon(self) -> None:
        while self._rescan_wanted and self.active is None:
            self._rescan_wanted = False
            await asyncio.sleep(RESCAN_DELAY)  # partitions arrive right after their disk
            try:
                await self.rescan()
            except (OSError, UserError) as err:
                log.error("storage: rescan failed: %s", err)

    def _removed(self, why: str) -> None:
        part = self.active
        assert part is not None
        log.error("storage: USB STORAGE LOST (%s): voicemail, recordings, faxes, CDR and backups now go to "
                  "INTERNAL storage %s until a storage key is inserted again",
                  why, areas.internal_root(self.data_dir))
        areas.point_storage_at(self.data_dir, areas.internal_root(self.data_dir))
        self.active = None
        self.active_disk = None
        self.removed_at = time.time()
        subprocess.run(["umount", "-l", str(self.mount_point)], capture_output=True, timeout=30)
        self.ctx.bus.publish(ConfigChanged("storage", "removed"))

    async def rescan(self) -> None:
        async with self._lock:
            if self.active is not None:
                return
            await asyncio.to_thread(self._mount_first_storage)

    def _mount_first_storage(self) -> None:
        for disk in list_disks(self.rule):
            for part in disk.partitions:
                if part.label == STORAGE_LABEL and part.fstype == "ext4":
                    try:
                        self._mount(disk, part)
                    except StorageError as err:
                        log.error("storage: cannot use %s: %s", part.path, err)
                        continue
                    return

    def _mount(self, disk: Disk, part: Partition) -> None:
        self.mount_point.mkdir(parents=True, exist_ok=True)
        if part.mountpoint != str(self.mount_point):
            if os.path.ismount(self.mount_point):
                _run(["umount", "-l", str(self.mount_point)])
            _run(["mount", "-t", "ext4", "-o", MOUNT_OPTIONS, part.path, str(self.mount_point)])
        marker = self.data_dir / areas.WIPE_MARKER
        if marker.exists():
            wiped = areas.wipe_areas(self.mount_point)
            marker.unlink()
            log.warning("storage: factory reset: %d entries removed from the USB key (backups kept)", wiped)
        for area in areas.AREAS:
            (self.mount_point / area).mkdir(exist_ok=True)
            for leftover in (self.mount_point / area).rglob(f"*{areas.PARTIAL_SUFFIX}"):
                leftover.unlink()  # a write the last removal interrupted
        moved = merge_into(areas.internal_root(self.data_dir), self.mount_point)
        areas.point_storage_at(self.data_dir, self.mount_point)
        self.active, self.active_disk = part, disk.name
        log.info("storage: using USB %s at %s (%d file(s) moved from internal storage)",
                 part.path, self.mount_point, moved)
        self.ctx.bus.publish(ConfigChanged("storage", "mounted"))

    # -- commands --------------------------------------------------------------
    async def _list(self, args: dict[str, Any]) -> dict[str, Any]:
        disks = await asyncio.to_thread(list_disks, self.rule)
        return {"status": self.status(), "disks": [asdict(d) for d in disks]}

    def _rule_command(self, args: dict[str, Any]) -> str:
        text = args.get("rule")
        if text is None:
            row = self.ctx.store.one("SELECT device_rule FROM storage_config WHERE id = 1")
            return row["device_rule"] if row else "usb"
        rule_from_text(str(text))
        with self.ctx.store.transaction():
            self.ctx.store.execute(
                "INSERT INTO storage_config(id, device_rule) VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET device_rule = excluded.device_rule", (str(text),))
        self.ctx.bus.publish(ConfigChanged("storage", "rule"))
        return str(text)

    def _accepted_disk(self, args: dict[str, Any]) -> Disk:
        name = str(args.get("device") or "").removeprefix("/dev/")
        if not name:
            raise ValidationError("name the device (e.g. sdb)", "device")
        for disk in list_disks(self.rule):
            if disk.name == name:
                return disk
        raise NotFound(f"no storage device {name!r} (see 'wpbxctl storage list')")

    async def _progress_stream(self, work: Callable[[Progress], Any]) -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def progress(percent: int, text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, {"percent": percent, "step": text})

        task = asyncio.ensure_future(asyncio.to_thread(work, progress))
        task.add_done_callback(lambda t: queue.put_nowait(None))
        while (item := await queue.get()) is not None:
            yield item
        try:
            result = task.result()
        except UserError as err:
            yield {"error": str(err)}
            return
        except OSError as err:
            yield {"error": f"{err.strerror or err}"}
            return
        yield {"percent": 100, "done": True, "result": result}

    async def _initialize(self, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            disk = await asyncio.to_thread(self._accepted_disk, args)
            if args.get("confirm") != disk.name:
                raise ValidationError(f"initializing erases {disk.path}: confirm with its name", "confirm")
        except UserError as err:
            yield {"error": str(err)}
            return
        async with self._lock:
            if self.active_disk == disk.name:
                self._removed(f"{disk.name} is being initialized")

            def work(progress: Progress) -> str:
                part = initialize_disk(disk, progress)
                progress(95, f"mounting {part} as the PBX storage")
                self._mount(read_disk(disk.name), next(p for p in read_disk(disk.name).partitions
                                                       if p.path == part))
                return part

            async for item in self._progress_stream(work):
                yield item

    async def _add_partition(self, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            disk = await asyncio.to_thread(self._accepted_disk, args)
            size = args.get("size_mb")
            size_bytes = None if size in (None, "") else int(size) * 1024 * 1024
        except (UserError, ValueError) as err:
            yield {"error": str(err)}
            return
        async for item in self._progress_stream(lambda progress: add_partition(disk, size_bytes, progress)):
            yield item

    def _share_add(self, args: dict[str, Any]) -> dict[str, Any]:
        data = validate_share(args)
        store = self.ctx.store
        if store.one("SELECT 1 FROM storage_shares WHERE name = ?", (data["name"],)):
            raise ValidationError(f"a share named {data['name']!r} exists", "name")
        with store.transaction():
            cur = store.execute(
                f"INSERT INTO storage_shares({', '.join(SHARE_FIELDS)}) VALUES ({', '.join('?' * len(SHARE_FIELDS))})",
                [data[k] for k in SHARE_FIELDS])
        self.ctx.bus.publish(ConfigChanged("storage", "shares"))
        return get_share(store, cur.lastrowid).public()

    def _share_del(self, args: dict[str, Any]) -> dict[str, Any]:
        share = get_share(self.ctx.store, args.get("share") or "")
        if self.ctx.store.one("SELECT 1 FROM backup_schedules WHERE share_id = ?", (share.id,)):
            raise ValidationError(f"share {share.name!r} is used by a backup schedule", "share")
        with self.ctx.store.transaction():
            self.ctx.store.execute("DELETE FROM storage_shares WHERE id = ?", (share.id,))
        self.ctx.bus.publish(ConfigChanged("storage", "shares"))
        return share.public()

    async def _share_test(self, args: dict[str, Any]) -> str:
        share = get_share(self.ctx.store, args.get("share") or "")
        return await asyncio.to_thread(check_share, share, self.data_dir / ".mnt")
