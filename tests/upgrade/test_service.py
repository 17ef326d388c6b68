"""The upgrade service in a real wpbxd (host mode) over a layout of plain files:
two ext4 slot images, a boot folder and a kernel command line file. Bundles are made
by image/bundle from a small ext4 root, as the firmware build makes them."""

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import need_tool
from tests.daemon_runner import REPO
from wpbxd.services import upgrade as up

SLOT_MB = 24


def _ext4(path, folder=None, label="wpbx-x"):
    args = ["mkfs.ext4", "-q", "-F", "-L", label]
    if folder:
        args += ["-d", str(folder)]
    subprocess.run([*args, str(path), f"{SLOT_MB}M"], check=True)


def _debugfs_cat(image, path):
    return subprocess.run(["debugfs", "-R", f"cat {path}", str(image)], capture_output=True,
                          text=True).stdout


def _label(image):
    out = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Filesystem volume name"))


@pytest.fixture
def box(tmp_path, wpbxd_factory):
    need_tool("mkfs.ext4", "debugfs", "resize2fs", "e2label", "dumpe2fs", "e2fsck")
    key, pub = up.generate_key()
    (tmp_path / "sign.key").write_bytes(key)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "wpbx.pub").write_bytes(pub)
    boot = tmp_path / "boot"
    slots = {s: tmp_path / f"slot-{s}.img" for s in up.SLOTS}
    _ext4(slots["a"], label="wpbx-a")
    slots["b"].write_bytes(b"\0" * SLOT_MB * 1024 * 1024)
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOT_IMAGE=/a/vmlinuz root=LABEL=wpbx-a wpbx.slot=a rw\n")
    layout = up.Layout(boot_dir=boot, devices=slots, cmdline=cmdline)
    layout.save(up.SlotState(active="a", versions=(("a", "0.1.0"),)))
    data = tmp_path / "pbx"
    data.mkdir()
    (data / up.LAYOUT_FILE).write_text(json.dumps({
        "boot_dir": str(boot), "devices": {s: str(p) for s, p in slots.items()},
        "cmdline": str(cmdline), "keys_dir": str(keys)}))
    daemon = wpbxd_factory(data_dir=data)
    return {"daemon": daemon, "layout": layout, "tmp": tmp_path, "key": tmp_path / "sign.key"}


def _bundle(box, version, name, key=None):
    tmp = box["tmp"]
    image = tmp / f"image-{name}"
    root = image / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "wpbx-version").write_text(version + "\n")
    (root / "etc" / "marker").write_text(f"root of {version}\n")
    _ext4(image / "rootfs.ext4", root, label="wpbx-root")
    (image / "vmlinuz").write_bytes(f"kernel {version}".encode() * 100)
    (image / "initrd.img").write_bytes(f"initrd {version}".encode() * 100)
    out = tmp / f"{name}.wpbx"
    result = subprocess.run(["bash", str(REPO / "image" / "bundle"), str(image), str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SIGN_PYTHON": sys.executable,
                                 "WPBX_SIGNING_KEY": str(key or box["key"])})
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_install_needs_a_fresh_backup_then_writes_the_inactive_slot_for_a_trial(box):
    daemon, layout = box["daemon"], box["layout"]
    bundle = _bundle(box, "0.2.0", "next")
    refused = daemon.ctl("upgrade", "install", str(bundle), check=False)
    assert refused.returncode != 0 and "a backup is required before an upgrade" in refused.stderr
    assert daemon.call("backup.list") == []

    done = daemon.ctl("upgrade", "install", "--backup", str(bundle))
    assert "installing 0.2.0 into slot B (backup (being made))" in done.stdout
    assert "writing slot B" in done.stdout and "installed: reboot" in done.stdout, done.stdout
    backups = daemon.call("backup.list")
    assert len(backups) == 1
    assert daemon.call("upgrade.status")["progress"]["backup"] == backups[0]["name"]

    slot_b = layout.devices["b"]
    assert _label(slot_b) == "wpbx-b"
    assert _debugfs_cat(slot_b, "/etc/marker") == "root of 0.2.0\n"
    assert (layout.boot_dir / "b" / "vmlinuz").read_bytes() == b"kernel 0.2.0" * 100
    state = layout.load()
    assert state.trial == "b" and state.active == "a" and state.trial_version == "0.2.0"
    assert (layout.boot_dir / up.EXTLINUX_CONF).read_text().startswith("DEFAULT slot-b")
    status = daemon.ctl("upgrade", "status").stdout
    assert "slot A running, A confirmed, trial of B pending" in status, status

    # the trial boot: the early unit points the boot loader back at A, wpbxd confirms B
    layout.cmdline.write_text("BOOT_IMAGE=/b/vmlinuz root=LABEL=wpbx-b wpbx.slot=b rw\n")
    boot = subprocess.run([sys.executable, "-m", "wpbxd.services.upgrade", "boot", str(daemon.data_dir)],
                          capture_output=True, text=True, cwd=REPO)
    assert boot.returncode == 0 and "trial boot of 0.2.0 in slot B" in boot.stdout, boot.stdout + boot.stderr
    assert (layout.boot_dir / up.EXTLINUX_CONF).read_text().startswith("DEFAULT slot-a")
    confirmed = daemon.ctl("upgrade", "confirm").stdout
    assert "upgraded to 0.2.0 (slot B)" in confirmed
    assert layout.load().active == "b"
    assert (layout.boot_dir / up.EXTLINUX_CONF).read_text().startswith("DEFAULT slot-b")
    assert "nothing to confirm" in daemon.ctl("upgrade", "confirm").stdout


def test_downgrade_bad_signature_and_junk_are_refused_with_nothing_written(box):
    daemon, layout = box["daemon"], box["layout"]
    daemon.call("backup.create")
    before = layout.devices["b"].read_bytes()
    older = _bundle(box, "0.0.9", "older")
    refused = daemon.ctl("upgrade", "install", str(older), check=False)
    assert refused.returncode != 0
    assert "La rétrogradation n'est pas prise en charge" in refused.stderr, refused.stderr

    other_key = box["tmp"] / "other.key"
    other_key.write_bytes(up.generate_key()[0])
    forged = _bundle(box, "0.2.0", "forged", key=other_key)
    refused = daemon.ctl("upgrade", "install", str(forged), check=False)
    assert refused.returncode != 0 and "bad signature" in refused.stderr, refused.stderr

    junk = box["tmp"] / "junk.wpbx"
    junk.write_bytes(b"\x00garbage" * 4096)
    refused = daemon.ctl("upgrade", "install", str(junk), check=False)
    assert refused.returncode != 0 and "not a wpbx update bundle" in refused.stderr

    assert layout.devices["b"].read_bytes() == before
    assert layout.load().trial is None
    assert daemon.call("upgrade.status")["progress"]["state"] == "idle"


def test_a_repository_name_maps_to_a_directory_and_offers_the_newest_good_bundle(box):
    daemon = box["daemon"]
    repo = box["tmp"] / "rel40"
    repo.mkdir()
    for version, name in (("0.1.5", "a"), ("0.3.0", "b"), ("0.0.1", "c")):
        _bundle(box, version, name).rename(repo / f"wpbx-{version}.wpbx")
    missing = daemon.ctl("upgrade", "check", "--repository", "rel40", check=False)
    assert missing.returncode != 0 and "no update repository 'rel40'" in missing.stderr
    assert daemon.ctl("upgrade", "repo", "add", "bad name!", str(repo), check=False).returncode != 0
    daemon.ctl("upgrade", "repo", "add", "rel40", str(repo))
    found = daemon.call("upgrade.check", {"repository": "rel40"})
    assert found["available"] and found["version"] == "0.3.0"
    empty = box["tmp"] / "rel380"
    empty.mkdir()
    daemon.ctl("upgrade", "repo", "add", "rel380", str(empty))
    assert "no newer version than 0.1.0 in rel380" in daemon.ctl("upgrade", "check", "--repository", "rel380").stdout


def test_web_upload_refuses_a_downgrade_then_installs_and_shows_progress(box):
    import urllib3

    from tests.web.conftest import Web, first_login

    urllib3.disable_warnings()
    web = Web(box["daemon"])
    first_login(web)
    s = web.admin()
    page = web.get(s, "/settings/update")
    assert page.status_code == 200 and 'id="running-version">0.1.0<' in page.text
    assert "confirmed A" in page.text

    def upload(path, backup=True):
        data = {"csrf": web.csrf(s, "/settings/update"), "action": "upload"}
        if backup:
            data["backup"] = "1"
        with open(path, "rb") as f:
            return s.post(web.base + "/settings/update", data=data, files={"bundle": (path.name, f)},
                          allow_redirects=False, timeout=60)

    refused = upload(_bundle(box, "0.0.5", "older"))
    assert refused.status_code == 400 and "La rétrogradation n&#039;est pas prise en charge" in refused.text
    empty = s.post(web.base + "/settings/update", data={"csrf": web.csrf(s, "/settings/update"),
                                                       "action": "upload"}, timeout=20, allow_redirects=False)
    assert empty.status_code == 400 and "choose an update bundle" in empty.text
    done = upload(_bundle(box, "0.2.0", "next"))
    assert done.status_code == 303, done.text[:1000]
    for _ in range(100):
        progress = web.get(s, "/settings/update/progress").json()
        if progress["state"] in ("installed", "failed"):
            break
        time.sleep(0.2)
    assert progress["state"] == "installed", progress
    page = web.get(s, "/settings/update")
    assert "Upgrade to 0.2.0: installed" in page.text and "trial of B pending" in page.text
    assert progress["backup"] and progress["backup"] in page.text
    assert not (box["daemon"].data_dir / "upgrade" / "upload.wpbx").exists()


def test_a_root_that_does_not_fit_the_slot_fails_cleanly_and_keeps_the_boot(box):
    daemon, layout = box["daemon"], box["layout"]
    daemon.call("backup.create")
    with open(layout.devices["b"], "r+b") as f:
        f.truncate(1024 * 1024)
    failed = daemon.ctl("upgrade", "install", _bundle(box, "0.2.0", "big").as_posix(), check=False)
    assert failed.returncode == 1 and "does not fit slot B" in failed.stderr, failed.stdout + failed.stderr
    assert layout.load().trial is None
    assert (layout.boot_dir / up.EXTLINUX_CONF).read_text().startswith("DEFAULT slot-a")
    assert daemon.call("upgrade.status")["progress"]["state"] == "failed"
