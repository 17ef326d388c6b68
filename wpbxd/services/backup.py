"""System backup and restore (seed: "Créer une sauvegarde du système").

A backup is one gzip'd tar archive: ``db/wpbx.db`` (a consistent snapshot through
SQLite's online backup API), ``data/<area>/...`` for every data area except the
backups themselves (voicemail, recordings, faxes, CDR files, sounds), and
``manifest.json`` last: format name and version, software and schema versions,
and the size and SHA-256 of every other member.

Restore validates the whole archive first — format, version, member names, sizes,
checksums — and refuses a corrupt, truncated or foreign archive with nothing
changed. Then it stages the files next to the live areas, migrates the snapshot
to the current schema, copies it table by table into the live store in one
transaction (the box's own identity is kept), and swaps the area folders in.

Schedules (daily / weekly / monthly at a time of the PBX's time zone) make an
archive and keep it in the backups area, or send it to an FTP server, a network
share or a mailbox (through the SMTP profile), then delete that schedule's oldest
archives there beyond ``keep`` (never a manual backup; mail cannot be taken back). Whether a schedule is due is a pure function of the
schedule, its last run and the time passed in.

This module never writes outside the data directory, the archive it was asked to
write and the schedule's own target.
"""

import asyncio
import contextlib
import ftplib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path, PurePosixPath
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wpbxd import __version__
from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.hw import areas
from wpbxd.hw.storage import get_share, mounted_share
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.services import smtp

log = logging.getLogger(__name__)

FORMAT = "wpbx-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBER = "db/wpbx.db"
DATA_PREFIX = "data/"
SUFFIX = ".tar.gz"
NAME_RE = re.compile(r"^wpbx-backup-(?:(s[0-9]+)-)?([0-9]{8}-[0-9]{6})(?:-([0-9]+))?\.tar\.gz$")
BACKED_UP_AREAS = tuple(a for a in areas.AREAS if a != "backups")
KEPT_TABLES = {"schema_migrations", "box"}  # the box's label stays the box's
CHUNK = 1024 * 1024  # bytes per read while hashing
MAX_MANIFEST = 64 * 1024 * 1024  # bytes


class BackupError(UserError):
    """The archive cannot be used; nothing was changed."""


@dataclass(frozen=True)
class BackupInfo:
    name: str
    path: str
    size: int
    created: float
    files: int = 0


# -- creating ------------------------------------------------------------------
class _HashingReader:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha.update(data)
        self.count += len(data)
        return data


def _add_file(tar: tarfile.TarFile, source: Path, member: str, mtime: float) -> dict[str, Any]:
    with open(source, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        info = tarfile.TarInfo(member)
        info.size, info.mtime, info.mode = size, int(mtime), 0o644
        reader = _HashingReader(raw)
        tar.addfile(info, reader)  # reads exactly ``size`` bytes, or raises
    return {"path": member, "size": size, "sha256": reader.sha.hexdigest()}


def _archive_name(folder: Path, now: float, tag: str = "") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    prefix = f"wpbx-backup-{tag}-" if tag else "wpbx-backup-"
    path = folder / f"{prefix}{stamp}{SUFFIX}"
    serial = 1
    while path.exists():
        path = folder / f"{prefix}{stamp}-{serial}{SUFFIX}"
        serial += 1
    return path


def create_backup(store: Store, data_dir: Path, target_dir: Path | None = None,
                  now: float | None = None, tag: str = "") -> BackupInfo:
    """Write one archive (to the backups area by default) and return what it is.

    ``tag`` (``s<schedule id>``) marks the archives a schedule's retention may delete.
    """
    now = time.time() if now is None else now
    target_dir = Path(target_dir) if target_dir else areas.area_path(data_dir, "backups")
    target_dir.mkdir(parents=True, exist_ok=True)
    path = _archive_name(target_dir, now, tag)
    tmp = path.with_name(f".{path.name}.partial")
    files: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".backup-") as scratch:
        snapshot = Path(scratch) / "wpbx.db"
        store.backup_to(snapshot)
        try:
            with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
                files.append(_add_file(tar, snapshot, DB_MEMBER, now))
                root = areas.storage_root(data_dir)
                for area in BACKED_UP_AREAS:
                    folder = root / area
                    if not folder.is_dir():
                        continue
                    for source in sorted(folder.rglob("*")):
                        if source.is_symlink() or not source.is_file():
                            continue
                        member = f"{DATA_PREFIX}{area}/{source.relative_to(folder).as_posix()}"
                        files.append(_add_file(tar, source, member, source.stat().st_mtime))
                manifest = {
                    "format": FORMAT, "format_version": FORMAT_VERSION, "software": __version__,
                    "schema_version": store.schema_version(), "created": now,
                    "areas": list(BACKED_UP_AREAS), "files": files,
                }
                body = json.dumps(manifest, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(now), 0o644
                tar.addfile(info, io.BytesIO(body))
            with open(tmp, "rb") as done:
                os.fsync(done.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    log.info("backup: wrote %s (%d files, %d bytes)", path, len(files), path.stat().st_size)
    return BackupInfo(path.name, str(path), path.stat().st_size, now, len(files))


def list_backups(data_dir: Path) -> list[BackupInfo]:
    folder = areas.area_path(data_dir, "backups")
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if NAME_RE.match(path.name) and path.is_file():
            stat = path.stat()
            found.append(BackupInfo(path.name, str(path), stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda b: b.name)


def find_backup(data_dir: Path, ref: str) -> Path:
    """A backup by its name in the backups area, or an archive's path."""
    if NAME_RE.match(ref):
        path = areas.area_path(data_dir, "backups") / ref
    else:
        path = Path(ref)
        if not path.is_absolute():
            raise ValidationError("give a backup name from 'backup list' or an absolute path", "backup")
    if not path.is_file():
        raise NotFound(f"no backup {ref!r}")
    return path


# -- validating ----------------------------------------------------------------
def _check_member_name(name: str) -> None:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or name != pure.as_posix():
        raise BackupError(f"refused: unsafe member name {name!r} in the archive")
    if name != MANIFEST and name != DB_MEMBER:
        parts = pure.parts
        if len(parts) < 3 or parts[0] != "data" or parts[1] not in BACKED_UP_AREAS:
            raise BackupError(f"refused: unexpected member {name!r} (not a wpbx backup?)")


def _digest(stream: IO[bytes], sink: IO[bytes] | None = None) -> tuple[str, int]:
    sha = hashlib.sha256()
    count = 0
    while chunk := stream.read(CHUNK):
        sha.update(chunk)
        count += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return sha.hexdigest(), count


def _walk(path: Path, extract_to: Path | None = None) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """Read every member once: checksums (and files when ``extract_to``) and the manifest."""
    seen: dict[str, tuple[str, int]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                _check_member_name(member.name)
                if not member.isfile():
                    raise BackupError(f"refused: {member.name!r} is not a regular file")
                if member.name in seen or (member.name == MANIFEST and manifest is not None):
                    raise BackupError(f"refused: {member.name!r} appears twice")
                stream = tar.extractfile(member)
                assert stream is not None
                if member.name == MANIFEST:
                    if member.size > MAX_MANIFEST:
                        raise BackupError("refused: the manifest is too large")
                    try:
                        manifest = json.loads(stream.read())
                    except ValueError:
                        raise BackupError("refused: the manifest is not valid JSON") from None
                    continue
                if extract_to is None:
                    seen[member.name] = _digest(stream)
                else:
                    target = extract_to / member.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as sink:
                        seen[member.name] = _digest(stream, sink)
                    os.utime(target, (member.mtime, member.mtime))
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise BackupError(f"refused: the archive is damaged or truncated ({err})") from None
    if manifest is None:
        raise BackupError("refused: no manifest (not a wpbx backup)")
    return manifest, seen


def _check(manifest: dict[str, Any], seen: dict[str, tuple[str, int]], schema_version: int) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("refused: not a wpbx backup (wrong format name)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise BackupError(f"refused: backup format version {version!r} is not supported "
                          f"(this software reads 1 to {FORMAT_VERSION})")
    their_schema = manifest.get("schema_version")
    if not isinstance(their_schema, int) or their_schema > schema_version:
        raise BackupError(f"refused: the backup comes from newer software (schema {their_schema}, "
                          f"this box {schema_version})")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise BackupError("refused: the manifest lists no files")
    listed: dict[str, tuple[str, int]] = {}
    for entry in files:
        try:
            listed[str(entry["path"])] = (str(entry["sha256"]), int(entry["size"]))
        except (KeyError, TypeError, ValueError):
            raise BackupError("refused: malformed manifest entry") from None
    if DB_MEMBER not in listed:
        raise BackupError("refused: the backup has no configuration database")
    missing = sorted(set(listed) - set(seen))
    extra = sorted(set(seen) - set(listed))
    if missing:
        raise BackupError(f"refused: {len(missing)} file(s) missing from the archive, e.g. {missing[0]}")
    if extra:
        raise BackupError(f"refused: {len(extra)} file(s) not in the manifest, e.g. {extra[0]}")
    for name, (sha, size) in listed.items():
        if seen[name] != (sha, size):
            raise BackupError(f"refused: checksum mismatch for {name}")


def verify_backup(path: Path, schema_version: int) -> dict[str, Any]:
    """The manifest of a good archive; ``BackupError`` for anything else."""
    manifest, seen = _walk(Path(path))
    _check(manifest, seen, schema_version)
    return manifest


# -- restoring -----------------------------------------------------------------
def _copy_tables(store: Store, snapshot: Path) -> None:
    store.execute("ATTACH DATABASE ? AS snap", (str(snapshot),))
    try:
        theirs = {r["name"] for r in store.all(
            "SELECT name FROM snap.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        ours = [r["name"] for r in store.all(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name")]
        with store.transaction():
            store.execute("PRAGMA defer_foreign_keys = ON")
            ours = [t for t in ours if t not in KEPT_TABLES]
            for table in ours:  # every delete first: ON DELETE CASCADE must not eat new rows
                store.execute(f'DELETE FROM main."{table}"')
            for table in ours:
                if table not in theirs:
                    continue
                columns = [r["name"] for r in store.all(f'PRAGMA snap.table_info("{table}")')]
                mine = {r["name"] for r in store.all(f'PRAGMA main.table_info("{table}")')}
                shared = ", ".join(f'"{c}"' for c in columns if c in mine)
                store.execute(f'INSERT INTO main."{table}" ({shared}) SELECT {shared} FROM snap."{table}"')
    finally:
        store.execute("DETACH DATABASE snap")


def restore_backup(store: Store, bus: EventBus | None, data_dir: Path, path: Path) -> dict[str, Any]:
    """Validate, then replace configuration and data with the archive's."""
    schema = store.schema_version()
    verify_backup(path, schema)
    root = areas.storage_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.resolve(), prefix=".restore-"))
    try:
        manifest, seen = _walk(Path(path), extract_to=staging)
        _check(manifest, seen, schema)  # the bytes written are the bytes checked
        snapshot = staging / DB_MEMBER
        migrated = Store(snapshot)
        try:
            migrated.migrate()
        finally:
            migrated.close()
        _copy_tables(store, snapshot)
        _swap_areas(root, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if bus is not None:
        bus.publish(ConfigChanged("all"))
    log.warning("backup: restored %s (%d files)", path, len(seen))
    return {"restored": str(path), "files": len(seen), "created": manifest.get("created"),
            "software": manifest.get("software")}


def _swap_areas(root: Path, staging: Path) -> None:
    old = staging / "old"
    old.mkdir()
    moved: list[str] = []
    try:
        for area in BACKED_UP_AREAS:
            new = staging / "data" / area
            new.mkdir(parents=True, exist_ok=True)
            live = root / area
            if live.exists():
                os.rename(live, old / area)
            moved.append(area)
            os.rename(new, live)
    except OSError:
        for area in reversed(moved):  # put back what was there
            with contextlib.suppress(OSError):
                if (old / area).exists():
                    if (root / area).exists():
                        os.rename(root / area, staging / "data" / area)
                    os.rename(old / area, root / area)
        raise


# -- schedules (seed: "Sauvegarde périodique (planifiée)") ---------------------
FREQUENCIES = ("daily", "weekly", "monthly")
TARGETS = ("local", "ftp", "share", "email")
SCHEDULE_TICK = 30.0  # seconds between checks for a due schedule
FTP_TIMEOUT = 60.0    # seconds per FTP operation
MAX_EMAIL_BYTES = 20 * 1024 * 1024  # larger archives are refused: most mail servers reject them
SCHEDULE_FIELDS = ("frequency", "hour", "minute", "weekday", "monthday", "target", "ftp_host", "ftp_port",
                   "ftp_user", "ftp_password", "ftp_dir", "share_id", "keep", "enabled", "email_to")


@dataclass(frozen=True)
class Schedule:
    id: int
    frequency: str
    hour: int
    minute: int
    weekday: int
    monthday: int
    target: str
    ftp_host: str
    ftp_port: int
    ftp_user: str
    ftp_password: str
    ftp_dir: str
    share_id: int | None
    keep: int
    enabled: bool
    last_run: float | None
    last_result: str
    email_to: str = ""

    @property
    def tag(self) -> str:
        return f"s{self.id}"

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["ftp_password"] = "********" if self.ftp_password else ""
        return data


def next_run(schedule: Schedule, after: float, zone: tzinfo = UTC) -> float:
    """The first scheduled moment strictly after ``after`` (unix seconds), in the PBX's zone."""
    now = datetime.fromtimestamp(after, zone)
    at = now.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
    if schedule.frequency == "daily":
        if at <= now:
            at += timedelta(days=1)
    elif schedule.frequency == "weekly":
        at += timedelta(days=(schedule.weekday - at.weekday()) % 7)
        if at <= now:
            at += timedelta(days=7)
    else:
        at = at.replace(day=schedule.monthday)
        if at <= now:
            year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
            at = at.replace(year=year, month=month)
    return at.timestamp()


def is_due(schedule: Schedule, now: float, zone: tzinfo = UTC) -> bool:
    """Due once its next moment after the last run (or its creation) has come."""
    if not schedule.enabled or schedule.last_run is None:
        return False
    return next_run(schedule, schedule.last_run, zone) <= now


def validate_schedule(store: Store, values: dict[str, Any]) -> dict[str, Any]:
    def number(key: str, lo: int, hi: int, default: int) -> int:
        value = values.get(key)
        if value in (None, ""):
            return default
        try:
            result = int(value)
        except (TypeError, ValueError):
            raise ValidationError(f"must be a whole number between {lo} and {hi}", key) from None
        if not lo <= result <= hi:
            raise ValidationError(f"must be between {lo} and {hi}", key)
        return result

    data: dict[str, Any] = {
        "frequency": str(values.get("frequency") or "daily"),
        "hour": number("hour", 0, 23, 2), "minute": number("minute", 0, 59, 0),
        "weekday": number("weekday", 0, 6, 0), "monthday": number("monthday", 1, 28, 1),
        "target": str(values.get("target") or "local"), "keep": number("keep", 1, 365, 7),
        "ftp_host": str(values.get("ftp_host") or "").strip(), "ftp_port": number("ftp_port", 1, 65535, 21),
        "ftp_user": str(values.get("ftp_user") or ""), "ftp_password": str(values.get("ftp_password") or ""),
        "ftp_dir": str(values.get("ftp_dir") or "").strip(), "share_id": None,
        "enabled": 0 if values.get("enabled") in (False, 0, "0", "no") else 1,
        "email_to": str(values.get("email_to") or "").strip(),
    }
    if data["frequency"] not in FREQUENCIES:
        raise ValidationError(f"must be one of {', '.join(FREQUENCIES)}", "frequency")
    if data["target"] not in TARGETS:
        raise ValidationError(f"must be one of {', '.join(TARGETS)}", "target")
    if data["target"] == "ftp" and not re.match(r"^[A-Za-z0-9.:-]{1,253}$", data["ftp_host"]):
        raise ValidationError("an FTP target needs a host name or address", "ftp_host")
    if data["target"] == "email" and not smtp.EMAIL_RE.match(data["email_to"]):
        raise ValidationError("an email target needs the address to send the backups to", "email_to")
    if data["target"] == "share":
        ref = values.get("share")
        row = store.one("SELECT id FROM storage_shares WHERE name = ? OR id = ?", (str(ref), str(ref)))
        if row is None:
            raise ValidationError(f"no share {ref!r} (add it under storage shares)", "share")
        data["share_id"] = row["id"]
    return data


def _schedule(row: Any) -> Schedule:
    data = dict(row)
    data["enabled"] = bool(data["enabled"])
    return Schedule(**data)


def list_schedules(store: Store) -> list[Schedule]:
    return [_schedule(r) for r in store.all("SELECT * FROM backup_schedules ORDER BY id")]


def get_schedule(store: Store, ref: Any) -> Schedule:
    try:
        row = store.one("SELECT * FROM backup_schedules WHERE id = ?", (int(ref),))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise NotFound(f"no backup schedule {ref!r}")
    return _schedule(row)


def _age_key(name: str) -> tuple[str, int]:
    match = NAME_RE.match(name)
    assert match is not None
    return match.group(2), int(match.group(3) or 0)


def _oldest_beyond(names: list[str], tag: str, keep: int) -> list[str]:
    mine = sorted((n for n in names if (m := NAME_RE.match(n)) and m.group(1) == tag), key=_age_key)
    return mine[: max(0, len(mine) - keep)]


def _unique(name: str, existing: list[str]) -> str:
    """``name``, or ``name`` with a ``-N`` serial when the target already has it."""
    stem = name[: -len(SUFFIX)]
    serial, candidate = 1, name
    while candidate in existing:
        candidate = f"{stem}-{serial}{SUFFIX}"
        serial += 1
    return candidate


def _deliver_ftp(schedule: Schedule, archive: Path) -> str:
    with ftplib.FTP(timeout=FTP_TIMEOUT) as ftp:
        ftp.connect(schedule.ftp_host, schedule.ftp_port)
        ftp.login(schedule.ftp_user or "anonymous", schedule.ftp_password)
        if schedule.ftp_dir:
            ftp.cwd(schedule.ftp_dir)
        name = _unique(archive.name, [n.rsplit("/", 1)[-1] for n in ftp.nlst()])
        partial = f".{name}.partial"
        with open(archive, "rb") as source:
            ftp.storbinary(f"STOR {partial}", source)
        ftp.rename(partial, name)
        for old in _oldest_beyond([n.rsplit("/", 1)[-1] for n in ftp.nlst()], schedule.tag, schedule.keep):
            ftp.delete(old)
    return f"sent to ftp://{schedule.ftp_host}:{schedule.ftp_port}/{schedule.ftp_dir}"


def _deliver_email(store: Store, schedule: Schedule, archive: Path) -> str:
    """Mail the archive through the SMTP profile (no retention: mail cannot be taken back)."""
    size = archive.stat().st_size
    if size > MAX_EMAIL_BYTES:
        raise UserError(f"the backup is {size // (1024 * 1024)} MB, over the {MAX_EMAIL_BYTES // (1024 * 1024)} MB"
                        " a mail can carry: send it to FTP or a share instead")
    smtp.send_mail(smtp.get_profile(store), schedule.email_to, f"wpbx backup {archive.name}",
                   f"The scheduled backup {archive.name} of your wpbx PBX is attached ({size} bytes).\n"
                   "Restore it in Settings > Backup or with 'wpbxctl backup restore'.\n",
                   attachments=[(archive.name, archive.read_bytes(), "application/gzip")])
    return f"mailed to {schedule.email_to}"


def _deliver_share(store: Store, data_dir: Path, schedule: Schedule, archive: Path) -> str:
    share = get_share(store, schedule.share_id or "")
    with mounted_share(share, data_dir / ".mnt") as root:
        name = _unique(archive.name, os.listdir(root))
        partial = root / f".{name}.partial"
        shutil.copyfile(archive, partial)
        os.replace(partial, root / name)
        for old in _oldest_beyond(os.listdir(root), schedule.tag, schedule.keep):
            (root / old).unlink()
    return f"copied to share {share.name}"


def run_schedule(store: Store, data_dir: Path, schedule: Schedule, now: float) -> str:
    """Make the backup and deliver it; record and return the result (never raises)."""
    try:
        if schedule.target == "local":
            info = create_backup(store, data_dir, now=now, tag=schedule.tag)
            folder = areas.area_path(data_dir, "backups")
            for old in _oldest_beyond(os.listdir(folder), schedule.tag, schedule.keep):
                (folder / old).unlink()
            result = f"ok: {info.name} kept in the backups area"
        else:
            with tempfile.TemporaryDirectory(dir=data_dir, prefix=".backup-out-") as scratch:
                info = create_backup(store, data_dir, Path(scratch), now=now, tag=schedule.tag)
                path = Path(info.path)
                if schedule.target == "ftp":
                    where = _deliver_ftp(schedule, path)
                elif schedule.target == "email":
                    where = _deliver_email(store, schedule, path)
                else:
                    where = _deliver_share(store, data_dir, schedule, path)
                result = f"ok: {info.name} {where}"
    except (UserError, OSError, ftplib.Error, EOFError) as err:
        result = f"failed: {err}"
        log.error("backup: schedule %d failed: %s", schedule.id, err)
    with store.transaction():
        store.execute("UPDATE backup_schedules SET last_run = ?, last_result = ? WHERE id = ?",
                      (now, result, schedule.id))
    return result


def pbx_zone(store: Store) -> tzinfo:
    row = store.one("SELECT value FROM settings WHERE key = 'pbx.timezone'")
    name = json.loads(row["value"]) if row else "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


# -- service -------------------------------------------------------------------
class BackupService:
    name = "backup"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.data_dir = ctx.config.data_dir
        self._busy = asyncio.Lock()
        control = ctx.control
        control.register("backup.create", self._create)
        control.register("backup.list", lambda args: [asdict(b) for b in list_backups(self.data_dir)])
        control.register("backup.verify", self._verify)
        control.register("backup.restore", self._restore)
        control.register("backup.schedule.list", lambda args: [s.public() for s in list_schedules(ctx.store)])
        control.register("backup.schedule.add", self._schedule_add)
        control.register("backup.schedule.del", self._schedule_del)
        control.register("backup.schedule.run", self._schedule_run)
        self._ticker: asyncio.Task | None = None

    async def start(self) -> None:
        areas.ensure_areas(self.data_dir)
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(SCHEDULE_TICK)
            try:
                await self.run_due(self.ctx.clock())
            except Exception:
                log.exception("backup: schedule check failed")

    async def run_due(self, now: float) -> list[str]:
        """Run every schedule that is due at ``now`` (the clock is passed in)."""
        zone = pbx_zone(self.ctx.store)
        results = []
        for schedule in list_schedules(self.ctx.store):
            if is_due(schedule, now, zone):
                async with self._busy:
                    results.append(await asyncio.to_thread(
                        run_schedule, self.ctx.store, self.data_dir, schedule, now))
        return results

    def _schedule_add(self, args: dict[str, Any]) -> dict[str, Any]:
        data = validate_schedule(self.ctx.store, args)
        data["last_run"], data["last_result"] = self.ctx.clock(), "created"
        columns = [*SCHEDULE_FIELDS, "last_run", "last_result"]
        with self.ctx.store.transaction():
            cur = self.ctx.store.execute(
                f"INSERT INTO backup_schedules({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [data[c] for c in columns])
        self.ctx.bus.publish(ConfigChanged("backup", "schedules"))
        return get_schedule(self.ctx.store, cur.lastrowid).public()

    def _schedule_del(self, args: dict[str, Any]) -> dict[str, Any]:
        schedule = get_schedule(self.ctx.store, args.get("id"))
        with self.ctx.store.transaction():
            self.ctx.store.execute("DELETE FROM backup_schedules WHERE id = ?", (schedule.id,))
        self.ctx.bus.publish(ConfigChanged("backup", "schedules"))
        return schedule.public()

    async def _schedule_run(self, args: dict[str, Any]) -> str:
        schedule = get_schedule(self.ctx.store, args.get("id"))
        async with self._busy:
            return await asyncio.to_thread(run_schedule, self.ctx.store, self.data_dir, schedule, self.ctx.clock())

    def apply(self, config: DaemonConfig) -> None:
        pass

    def status(self) -> dict[str, Any]:
        backups = list_backups(self.data_dir)
        return {"backups": len(backups), "latest": backups[-1].name if backups else None}

    async def _create(self, args: dict[str, Any]) -> dict[str, Any]:
        async with self._busy:
            info = await asyncio.to_thread(create_backup, self.ctx.store, self.data_dir)
        return asdict(info)

    async def _verify(self, args: dict[str, Any]) -> dict[str, Any]:
        path = find_backup(self.data_dir, str(args.get("backup") or ""))
        manifest = await asyncio.to_thread(verify_backup, path, self.ctx.store.schema_version())
        return {"backup": path.name, "ok": True, "files": len(manifest["files"]),
                "created": manifest.get("created"), "software": manifest.get("software"),
                "schema_version": manifest.get("schema_version")}

    async def _restore(self, args: dict[str, Any]) -> dict[str, Any]:
        path = find_backup(self.data_dir, str(args.get("backup") or ""))
        async with self._busy:
            return await asyncio.to_thread(restore_backup, self.ctx.store, self.ctx.bus, self.data_dir, path)
