"""Network shares for backups (seed: "Partage Windows" / "Partage NFS"): definitions and the test action."""

from pathlib import Path

import pytest

from tests.conftest import need_root
from wpbxd.errors import ValidationError
from wpbxd.hw.storage import Share, share_mount_command, validate_share


def test_share_definitions_are_checked():
    good = validate_share({"name": "nas", "kind": "cifs", "server": "192.0.2.10", "path": "backups",
                           "username": "pbx", "password": "S3cret!"})
    assert good["kind"] == "cifs" and good["path"] == "backups"
    for bad, field in [({"kind": "smb"}, "kind"), ({"server": "a b"}, "server"), ({"name": "x y"}, "name"),
                       ({"kind": "nfs", "path": "relative"}, "path"), ({"options": "ro,credentials=/x"}, "options"),
                       ({"password": "a,b"}, "username")]:
        values = {"name": "nas", "kind": "cifs", "server": "nas.lan", "path": "b", **bad}
        with pytest.raises(ValidationError) as err:
            validate_share(values)
        assert err.value.field == field


def test_mount_commands_keep_passwords_off_the_command_line(tmp_path):
    cifs = Share(1, "nas", "cifs", "nas.lan", "/backups/", "pbx", "S3cret!", "vers=3.0")
    argv = share_mount_command(cifs, tmp_path / "m", tmp_path / "cred")
    assert argv == ["mount", "-t", "cifs", "//nas.lan/backups", str(tmp_path / "m"),
                    "-o", f"credentials={tmp_path / 'cred'},vers=3.0"]
    assert "S3cret!" not in " ".join(argv)
    nfs = Share(2, "store", "nfs", "10.0.0.5", "/export/pbx", "", "", "")
    assert share_mount_command(nfs, Path("/m"), None) == ["mount", "-t", "nfs", "10.0.0.5:/export/pbx", "/m"]


def test_share_add_test_and_delete_through_the_daemon(wpbxd):
    need_root()
    wpbxd.ctl("storage", "share", "add", "nas", "--kind", "nfs", "--server", "127.0.0.1", "--path", "/nowhere")
    listed = wpbxd.ctl("storage", "share", "list").stdout
    assert "nas" in listed and "127.0.0.1" in listed
    dup = wpbxd.ctl("storage", "share", "add", "nas", "--kind", "nfs", "--server", "h", "--path", "/x", check=False)
    assert dup.returncode == 1 and "exists" in dup.stderr
    # nothing exports /nowhere on loopback (and this kernel has no NFS client): a clear failure
    test = wpbxd.ctl("storage", "share", "test", "nas", check=False)
    assert test.returncode == 1 and "cannot mount nfs share 'nas'" in test.stderr
    assert not [p for p in (wpbxd.data_dir / ".mnt").iterdir()]  # no mount point left behind
    made = wpbxd.call("backup.schedule.add", {"target": "share", "share": "nas"})
    used = wpbxd.ctl("storage", "share", "del", "nas", check=False)
    assert used.returncode == 1 and "used by a backup schedule" in used.stderr
    assert wpbxd.ctl("backup", "schedule", "run", str(made["id"]), check=False).stdout.startswith("failed: cannot mount")
    wpbxd.call("backup.schedule.del", {"id": made["id"]})
    assert "deleted share nas" in wpbxd.ctl("storage", "share", "del", "nas").stdout
