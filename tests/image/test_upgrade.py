"""Upgrade of the firmware under QEMU (issue 9, seed: "Mise à niveau du système").

One VM booted from the session's image (version N in slot A). Bundles are made by
``image/bundle`` from the same build: N+1 is the same root re-packed with another
``/etc/wpbx-version`` and wpbx version; a broken N+1 also has wpbxd replaced by a
command that exits at start. Through the web UI's upload, as an admin would:

- a downgrade bundle and a bundle signed by another key are refused, with the seed's
  message for the downgrade;
- the broken N+1 installs into slot B and the box reboots into it for a trial;
  wpbxd never becomes healthy, the box reboots and is back on N (slot A), and says so;
- the good N+1 installs, the trial boot confirms it, and the web UI and the engine
  CLI's ``status`` (over SSH) show N+1.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_runner import REPO
from tests.image.test_image_boot import BOOT_TIMEOUT, START_TIMEOUT, _csrf, _ssh_console, _web_login
from tests.image.vm import Vm
from wpbxd.services import upgrade as up

PASSWORD = "Upgr4de!Test"
UPLOAD_TIMEOUT = 900.0    # seconds: ~200 MB through QEMU user networking to an emulated box
INSTALL_TIMEOUT = 900.0   # seconds from the upload to the reboot into the new slot
TOOLS = ("debugfs", "resize2fs", "e2fsck", "dumpe2fs", "mkfs.ext4", "mount", "umount")


def _bump(version: str) -> str:
    parts = version.split(".")
    if not all(p.isdigit() for p in parts):
        pytest.skip(f"version {version!r} is not plain numbers; cannot derive N+1")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)


def _bundle(image_dir: Path, out: Path, root: Path | None = None, key: Path | None = None) -> Path:
    argv = ["bash", str(REPO / "image" / "bundle")]
    if root is not None:
        argv += ["-r", str(root)]
    env = dict(os.environ)
    if key is not None:
        env["WPBX_SIGNING_KEY"] = str(key)
    result = subprocess.run([*argv, str(image_dir), str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout.splitlines()[-1])
    return out


def _repack(image_dir: Path, work: Path, version: str, broken: bool) -> Path:
    """A copy of the image's root with another version (and, if broken, a wpbxd that exits)."""
    root = work / f"rootfs-{version}{'-broken' if broken else ''}.ext4"
    subprocess.run(["cp", "--sparse=always", str(image_dir / "rootfs.ext4"), str(root)], check=True)
    mnt = work / "mnt"
    mnt.mkdir(exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(root), str(mnt)], check=True)
    try:
        (mnt / "etc" / "wpbx-version").write_text(version + "\n")
        version_py = next((mnt / "opt" / "wpbx" / "venv" / "lib").glob("python3*/site-packages/wpbxd/version.py"))
        version_py.write_text(f'__version__ = "{version}"\n')
        if broken:
            dropin = mnt / "etc" / "systemd" / "system" / "wpbxd.service.d" / "broken.conf"
            dropin.parent.mkdir(parents=True, exist_ok=True)
            dropin.write_text("[Service]\nExecStart=\nExecStart=/bin/false\n")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    return root


def _small_bundle(image_dir: Path, work: Path, version: str, key: Path | None) -> Path:
    """A bundle with a tiny root: enough for the checks that must refuse it first."""
    fake = work / f"fake-{version}"
    (fake / "root" / "etc").mkdir(parents=True)
    (fake / "root" / "etc" / "wpbx-version").write_text(version + "\n")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(fake / "root"), str(fake / "rootfs.ext4"), "8M"], check=True)
    for name in ("vmlinuz", "initrd.img"):
        (fake / name).write_bytes(b"\0" * 4096)
    return _bundle(fake, work / f"small-{version}.wpbx", key=key)


@pytest.fixture(scope="module")
def bundles(image_dir, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("re-packing the root for N+1 needs root (loop mount)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    if not (image_dir / "upgrade-key.pub").exists():
        pytest.skip(f"{image_dir} was built without an upgrade key (an image before the A/B layout)")
    key = Path(os.environ.get("WPBX_SIGNING_KEY") or REPO / "image" / "keys" / "dev-signing.key")
    if not key.is_file() or up.public_key_of(key.read_bytes()) != (image_dir / "upgrade-key.pub").read_bytes():
        pytest.skip(f"the signing key {key} is not the one {image_dir} trusts (set WPBX_SIGNING_KEY)")
    work = tmp_path_factory.mktemp("bundles")
    current = (image_dir / "VERSION").read_text().strip()
    newer = _bump(current)
    other_key = work / "other.key"
    other_key.write_bytes(up.generate_key()[0])
    made = {
        "current": current, "newer": newer,
        "downgrade": _small_bundle(image_dir, work, "0.0.1", None),
        "forged": _small_bundle(image_dir, work, newer, other_key),
        "broken": _bundle(image_dir, work / f"wpbx-{newer}-broken.wpbx", _repack(image_dir, work, newer, True)),
        "good": _bundle(image_dir, work / f"wpbx-{newer}.wpbx", _repack(image_dir, work, newer, False)),
    }
    for name in ("broken", "good"):
        (work / f"rootfs-{newer}{'-broken' if name == 'broken' else ''}.ext4").unlink()
    return made


@pytest.fixture(scope="module")
def vm(image_dir, bundles, tmp_path_factory):
    machine = Vm(disk=image_dir / "disk.img", workdir=tmp_path_factory.mktemp("upgrade-vm")).start()
    yield machine
    machine.stop()


def _admin(vm: Vm, password: str):
    session, base, reply = _web_login(vm.https_port, password, time.monotonic() + START_TIMEOUT)
    if reply.url.endswith("/password"):
        change = session.post(f"{base}/password", data={
            "current": password, "new": PASSWORD, "email": "admin@example.org",
            "csrf": _csrf(reply.text)}, timeout=30)
        assert change.url.endswith("/users"), change.text[:2000]
    return session, base


def _upload(session, base: str, bundle: Path):
    page = session.get(f"{base}/settings/update", timeout=60)
    with open(bundle, "rb") as f:
        return session.post(f"{base}/settings/update", data={"csrf": _csrf(page.text), "action": "upload",
                                                              "backup": "1"},
                            files={"bundle": (bundle.name, f)}, timeout=UPLOAD_TIMEOUT)


def _wait_for_reboot(session, base: str) -> dict:
    """Follow the progress page until the box reboots into the new slot; fail on a failed install."""
    deadline = time.monotonic() + INSTALL_TIMEOUT
    last: dict = {}
    while time.monotonic() < deadline:
        try:
            last = session.get(f"{base}/settings/update/progress", timeout=30).json()
        except Exception:
            if last.get("state") in ("writing", "rebooting"):
                return last  # the box went down for its reboot
            raise
        assert last["state"] != "failed", last
        if last["state"] == "rebooting":
            return last
        time.sleep(5)
    raise AssertionError(f"the install did not finish within {INSTALL_TIMEOUT:.0f} s: {last}")


def test_downgrade_and_badly_signed_bundles_are_refused(vm, bundles):
    vm.expect(r"wpbx boot menu", BOOT_TIMEOUT)
    session, base = _admin(vm, "wildix")
    page = session.get(f"{base}/settings/update", timeout=60)
    assert f'id="running-version">{bundles["current"]}<' in page.text
    assert "running A, confirmed A" in page.text, page.text[:3000]

    refused = _upload(session, base, bundles["downgrade"])
    assert refused.status_code == 400
    assert "La rétrogradation n&#039;est pas prise en charge" in refused.text
    refused = _upload(session, base, bundles["forged"])
    assert refused.status_code == 400 and "bad signature" in refused.text
    assert 'id="progress"' not in refused.text  # nothing started


def test_a_new_version_that_is_not_healthy_falls_back_to_the_previous_slot(vm, bundles):
    session, base = _admin(vm, PASSWORD)
    started = _upload(session, base, bundles["broken"])
    assert started.status_code == 200 and "Installing version" in started.text, started.text[:3000]
    assert _wait_for_reboot(session, base)["backup"].startswith("wpbx-backup-")
    vm.expect(rf"trial boot of {re.escape(bundles['newer'])} in slot B", INSTALL_TIMEOUT + BOOT_TIMEOUT)
    vm.expect(rf"trial of {re.escape(bundles['newer'])} failed: wpbxd failed to start", START_TIMEOUT)
    vm.expect(r"wpbx boot menu", BOOT_TIMEOUT)
    session, base = _admin(vm, PASSWORD)
    page = session.get(f"{base}/settings/update", timeout=60)
    assert f'id="running-version">{bundles["current"]}<' in page.text
    assert f"upgrade to {bundles['newer']} failed" in page.text and "back on slot A" in page.text, page.text[:3000]


def test_upgrade_to_the_new_version_through_the_web_ui(vm, bundles, tmp_path):
    session, base = _admin(vm, PASSWORD)
    started = _upload(session, base, bundles["good"])
    assert started.status_code == 200 and "Installing version" in started.text, started.text[:3000]
    _wait_for_reboot(session, base)
    vm.expect(rf"trial boot of {re.escape(bundles['newer'])} in slot B", INSTALL_TIMEOUT + BOOT_TIMEOUT)
    vm.expect(rf"upgraded to {re.escape(bundles['newer'])} \(slot B\)", START_TIMEOUT + BOOT_TIMEOUT)
    session, base = _admin(vm, PASSWORD)
    page = session.get(f"{base}/settings/update", timeout=60)
    assert f'id="running-version">{bundles["newer"]}<' in page.text
    assert "running B, confirmed B" in page.text, page.text[:3000]
    out = _ssh_console(vm.ssh_port, PASSWORD, [
        ("Choice [0-9]: ", "1\r"),
        ("CLI> ", "status\r"),
        ("uptime", "exit\r"),
        ("Choice [0-9]: ", "0\r"),
    ], tmp_path)
    assert f"Connected to wpbx {bundles['newer']}" in out, out[-3000:]
    assert re.search(rf"version\W+{re.escape(bundles['newer'])}", out), out[-3000:]
