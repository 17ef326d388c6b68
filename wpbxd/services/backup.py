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

This module does not schedule backups nor send them anywhere; it never writes
outside the data directory and the archive it was asked to write.
"""

import asyncio
import contextlib
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
from pathlib import Path, PurePosixPath
from typing import IO, Any

from wpbxd import __version__
from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.hw import areas
from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

FORMAT = "wpbx-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBER = "db/wpbx.db"
DATA_PREFIX = "data/"
SUFFIX = ".tar.gz"
NAME_RE = re.compile(r"^wpbx-backup-[0-9]{8}-[0-9]{6}(-[0-9]+)?\.tar\.gz$")
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


def _archive_name(folder: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    path = folder / f"wpbx-backup-{stamp}{SUFFIX}"
    serial = 1
    while path.exists():
        path = folder / f"wpbx-backup-{stamp}-{serial}{SUFFIX}"
        serial += 1
    return path


def create_backup(store: Store, data_dir: Path, target_dir: Path | None = None,
                  now: float | None = None) -> BackupInfo:
    """Write one archive (to the backups area by default) and return what it is."""
    now = time.time() if now is None else now
    target_dir = Path(target_dir) if target_dir else areas.area_path(data_dir, "backups")
    target_dir.mkdir(parents=True, exist_ok=True)
    path = _archive_name(target_dir, now)
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

    async def start(self) -> None:
        areas.ensure_areas(self.data_dir)

    async def stop(self) -> None:
        pass

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
