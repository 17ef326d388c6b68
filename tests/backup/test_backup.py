"""Backup and restore (seed: "Créer une sauvegarde du système").

Backup -> wipe -> restore gives identical configuration (table by table) and data
(file by file); a truncated, corrupt, foreign, tampered or too-new archive is
refused and changes nothing.
"""

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from wpbxd.config import settings, users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.console import recovery
from wpbxd.hw import areas
from wpbxd.services import backup


def make_box(data_dir: Path) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    recovery.recovery_code(store)
    for ext in ("101", "102", "103"):
        users.add_user(store, None, {"type": "user", "name": f"User {ext}", "extension": ext,
                                     "email": f"u{ext}@example.org"}, sip_password="G00d!pass")
    settings.set_value(store, None, "pbx.language", "fr")
    store.execute("INSERT INTO cdr(start_time, end_time, duration, billsec, caller_number, callee_number,"
                  " disposition) VALUES (1, 2, 1, 1, '101', '102', 'ANSWERED')")
    areas.ensure_areas(data_dir)
    vm = areas.area_path(data_dir, "voicemail") / "101" / "INBOX"
    vm.mkdir(parents=True)
    (vm / "msg0000.wav").write_bytes(os.urandom(50_000))
    (vm / "msg0000.txt").write_text("callerid=102\n")
    (areas.area_path(data_dir, "recordings") / "call-1.wav").write_bytes(os.urandom(20_000))
    (areas.area_path(data_dir, "sounds") / "welcome.wav").write_bytes(b"RIFF" + bytes(1000))
    return store


def tables(store: Store) -> dict[str, list[tuple]]:
    names = [r["name"] for r in store.all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: sorted(tuple(r) for r in store.all(f'SELECT * FROM "{n}"')) for n in names}


def files(data_dir: Path) -> dict[str, str]:
    root = areas.storage_root(data_dir)
    out = {}
    for area in backup.BACKED_UP_AREAS:
        for path in sorted((root / area).rglob("*")):
            if path.is_file():
                out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def box(tmp_path):
    store = make_box(tmp_path / "pbx")
    yield tmp_path / "pbx", store
    store.close()


def test_backup_wipe_restore_gives_identical_config_and_data(box):
    data_dir, store = box
    before_tables, before_files = tables(store), files(data_dir)
    info = backup.create_backup(store, data_dir)
    assert info.name in [b.name for b in backup.list_backups(data_dir)]
    assert info.files == 1 + len(before_files)
    recovery.factory_reset(store, None, data_dir)
    (areas.area_path(data_dir, "faxes") / "junk.tif").write_bytes(b"junk")
    users.add_user(store, None, {"type": "user", "name": "Intruder", "extension": "999"}, sip_password="G00d!pass")
    assert tables(store) != before_tables and files(data_dir) != before_files
    result = backup.restore_backup(store, None, data_dir, Path(info.path))
    assert result["files"] == info.files
    assert tables(store) == before_tables
    assert files(data_dir) == before_files
    assert not list(areas.storage_root(data_dir).glob(".restore-*"))


def test_archive_has_a_manifest_with_versions_and_checksums(box):
    data_dir, store = box
    info = backup.create_backup(store, data_dir)
    manifest = backup.verify_backup(Path(info.path), store.schema_version())
    assert manifest["format"] == "wpbx-backup" and manifest["format_version"] == 1
    assert manifest["schema_version"] == store.schema_version()
    paths = {f["path"] for f in manifest["files"]}
    assert "db/wpbx.db" in paths and "data/voicemail/101/INBOX/msg0000.wav" in paths
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])


def refused(store: Store, data_dir: Path, archive: Path, reason: str) -> None:
    before_tables, before_files = tables(store), files(data_dir)
    with pytest.raises(backup.BackupError, match=reason):
        backup.restore_backup(store, None, data_dir, archive)
    assert tables(store) == before_tables
    assert files(data_dir) == before_files
    assert not list(areas.storage_root(data_dir).glob(".restore-*"))


def test_truncated_archive_is_refused_and_nothing_changes(box, tmp_path):
    data_dir, store = box
    info = backup.create_backup(store, data_dir)
    data = Path(info.path).read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    users.add_user(store, None, {"type": "user", "name": "After", "extension": "104"}, sip_password="G00d!pass")
    refused(store, data_dir, truncated, "damaged or truncated")


def test_corrupted_byte_is_refused(box, tmp_path):
    data_dir, store = box
    info = backup.create_backup(store, data_dir)
    data = bytearray(Path(info.path).read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    refused(store, data_dir, bad, "refused")


def rewrite(source: Path, target: Path, change) -> None:
    """Copy an archive member by member through ``change(name, bytes) -> (name, bytes) | None``."""
    with tarfile.open(source, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            body = src.extractfile(member).read()
            result = change(member.name, body)
            if result is None:
                continue
            name, body = result
            info = tarfile.TarInfo(name)
            info.size = len(body)
            dst.addfile(info, io.BytesIO(body))


def test_tampered_file_foreign_archive_and_newer_versions_are_refused(box, tmp_path):
    data_dir, store = box
    info = backup.create_backup(store, data_dir)
    source = Path(info.path)

    tampered = tmp_path / "tampered.tar.gz"
    rewrite(source, tampered, lambda n, b: (n, b"evil") if n.endswith("msg0000.txt") else (n, b))
    refused(store, data_dir, tampered, "checksum mismatch")

    missing = tmp_path / "missing.tar.gz"
    rewrite(source, missing, lambda n, b: None if n.endswith("call-1.wav") else (n, b))
    refused(store, data_dir, missing, "missing from the archive")

    escape = tmp_path / "escape.tar.gz"
    rewrite(source, escape, lambda n, b: ("data/voicemail/../../../etc/x", b) if n.endswith("msg0000.txt") else (n, b))
    refused(store, data_dir, escape, "unsafe member name")

    def bump(key: str, value):
        def change(name, body):
            if name != "manifest.json":
                return name, body
            manifest = json.loads(body)
            manifest[key] = value
            return name, json.dumps(manifest).encode()
        return change

    newer = tmp_path / "newer.tar.gz"
    rewrite(source, newer, bump("format_version", 2))
    refused(store, data_dir, newer, "format version 2 is not supported")
    future = tmp_path / "future.tar.gz"
    rewrite(source, future, bump("schema_version", 99999))
    refused(store, data_dir, future, "newer software")

    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        body = b"hello"
        info = tarfile.TarInfo("README")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    refused(store, data_dir, foreign, "not a wpbx backup")
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(gzip.compress(b"not a tar at all" * 100))
    refused(store, data_dir, plain, "damaged or truncated")


def test_wpbxctl_backup_create_list_restore_through_the_daemon(wpbxd):
    wpbxd.ctl("user", "add", "--extension", "201", "--name", "Carol", "--sip-password", "G00d!pass")
    areas.area_path(wpbxd.data_dir, "voicemail").joinpath("201.wav").write_bytes(b"voice" * 1000)
    created = json.loads(wpbxd.ctl("backup", "create", "--json").stdout)
    listed = json.loads(wpbxd.ctl("backup", "list", "--json").stdout)
    assert [b["name"] for b in listed] == [created["name"]]
    assert "good" in wpbxd.ctl("backup", "verify", created["name"]).stdout
    wpbxd.ctl("user", "del", "201")
    areas.area_path(wpbxd.data_dir, "voicemail").joinpath("201.wav").unlink()
    no = wpbxd.ctl("backup", "restore", created["name"], check=False)
    assert no.returncode == 2 and "--yes" in no.stderr
    assert "restored" in wpbxd.ctl("backup", "restore", created["name"], "--yes").stdout
    assert [u["extension"] for u in wpbxd.call("user.list")] == ["201", None]
    assert areas.area_path(wpbxd.data_dir, "voicemail").joinpath("201.wav").read_bytes() == b"voice" * 1000
    missing = wpbxd.ctl("backup", "restore", "/nonexistent.tar.gz", "--yes", check=False)
    assert missing.returncode == 1 and "no backup" in missing.stderr
