"""The firmware image boots and the pieces work together (issue 9).

One VM, booted from the BIOS disk (MBR + extlinux) under QEMU TCG, checked as an
installer and an admin would: the serial boot menu at 19200 times out, the serial
login reaches the console menu, the web UI forces the first password change, SSH
as admin lands in the console menu, wpbxd runs in appliance mode with the seed's
port table, the USB key is seen, and after a reboot the boot menu's *Reset admin
password* gives admin / wildix back.
"""

import io
import os
import pty
import re
import select
import subprocess
import time
import wave

import pytest

from tests.conftest import need_tool
from tests.image.vm import Vm
from wpbxd.sounds.prompts import PROMPTS

BOOT_TIMEOUT = 300.0   # seconds to the boot menu under software emulation (TCG)
START_TIMEOUT = 240.0  # seconds from the boot menu to a usable PBX
ADMIN_PASSWORD = "Firmw4re!Test"  # set by the first password change on the web
WAN_LEASE_WAIT = 90.0  # seconds the WAN (slirp DHCP) may take to get its lease after the login
PROMPTS_DIR = "/var/lib/wpbx/storage/sounds/system"  # the media service's system prompts, per language


@pytest.fixture(scope="module")
def vm(image_dir, tmp_path_factory):
    machine = Vm(disk=image_dir / "disk.img", workdir=tmp_path_factory.mktemp("vm")).start()
    yield machine
    machine.stop()


def _https(port: int):
    requests = pytest.importorskip("requests")
    import urllib3

    urllib3.disable_warnings()
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=False
    session.verify = False
    return session, f"https://127.0.0.1:{port}"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def _web_login(port: int, password: str, deadline: float):
    session, base = _https(port)
    while True:
        try:
            page = session.get(f"{base}/login", timeout=20)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    reply = session.post(f"{base}/login", data={"login": "admin", "password": password,
                                                "csrf": _csrf(page.text)}, timeout=30)
    return session, base, reply


def _ssh_console(port: int, password: str, keys: list[tuple[str, str]], workdir) -> str:
    """Log in as admin with ssh in a pty; answer each (expected text, keys to type),
    each expected text being looked for in the output after the previous one."""
    askpass = workdir / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        ["ssh", "-tt", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "ConnectTimeout=30",
         "admin@127.0.0.1"],
        stdin=sub, stdout=sub, stderr=sub, env=env, start_new_session=True)
    os.close(sub)
    out = b""
    seen = 0  # each expected text is looked for after the previous one
    try:
        for expected, typed in keys:
            deadline = time.monotonic() + 120
            while expected.encode() not in out[seen:]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"ssh: {expected!r} not seen; got:\n{out.decode(errors='replace')[-2000:]}")
                ready, _, _ = select.select([main], [], [], 1)
                if ready:
                    try:
                        out += os.read(main, 65536)
                    except OSError:
                        break
            found = out.find(expected.encode(), seen)
            if found < 0:
                raise AssertionError(f"ssh: closed before {expected!r}; got:\n{out.decode(errors='replace')[-2000:]}")
            seen = found + len(expected.encode())
            os.write(main, typed.encode())
    finally:
        proc.terminate()
        proc.wait(20)
        os.close(main)
    return out.decode(errors="replace")


def test_serial_boot_menu_times_out_and_login_reaches_the_console_menu(vm):
    vm.expect(r"wpbx boot menu", BOOT_TIMEOUT)
    vm.expect(r"Normal boot in \d+ s", 30)
    vm.expect(r"No choice made: booting normally", 60)
    vm.expect(r"login: ", START_TIMEOUT)
    vm.send("admin\r")
    vm.expect(r"Password: ", 60)
    vm.send("wildix\r")
    vm.expect(r"must be changed", 120)
    vm.expect(r"Choice \[0-9\]: ", 120)
    try:
        # eth0 is a DHCP client of QEMU's slirp: under TCG its lease may come after the
        # login, so the network status is asked again until it shows (or the wait ends)
        deadline = time.monotonic() + WAN_LEASE_WAIT
        while True:
            vm.send("2\r")
            status = vm.expect(r"(?s)eth0.*?route .*?Choice \[0-9\]: ", 120).group(0)
            if re.search(r"eth0\s+UP\s+\S+\s+10\.0\.2\.\d+/24", status) or time.monotonic() > deadline:
                break
            time.sleep(3)
        # the seed's table: eth1 10.135.0.1/24, eth0 a DHCP client, eth2/eth3 down
        assert re.search(r"eth1\s+\S+\s+\S+\s+10\.135\.0\.1/24", status), status
        assert re.search(r"eth0\s+UP\s+\S+\s+10\.0\.2\.\d+/24", status), status
        assert re.search(r"eth2\s+DOWN", status) and re.search(r"eth3\s+DOWN", status), status
    finally:
        vm.send("0\r")            # log out, whatever happened: the next tests start at the login


def test_web_ui_forces_the_first_password_change(vm, image_dir):
    session, base, reply = _web_login(vm.https_port, "wildix", time.monotonic() + START_TIMEOUT)
    assert reply.url.endswith("/password"), reply.url
    assert "wpbx" in reply.text and (image_dir / "VERSION").read_text().strip() in reply.text
    change = session.post(f"{base}/password", data={
        "current": "wildix", "new": ADMIN_PASSWORD, "email": "admin@example.org",
        "csrf": _csrf(reply.text)}, timeout=30)
    assert change.url.endswith("/users"), change.text[:2000]


def test_ssh_as_admin_gets_the_console_menu_and_the_engine_sees_appliance_mode(vm, tmp_path):
    out = _ssh_console(vm.ssh_port, ADMIN_PASSWORD, [
        ("Choice [0-9]: ", "1\r"),
        ("CLI> ", "status\r"),
        ("uptime", "storage.list\r"),
        ("sda", "net.show\r"),
        ("eth3", "exit\r"),
        ("Choice [0-9]: ", "0\r"),
    ], tmp_path)
    assert "wpbx console" in out
    assert re.search(r"mode\W+appliance", out), out[-3000:]
    assert "sda" in out, out[-3000:]  # the USB key, on the USB controller
    print(out[-4000:])


def test_system_prompts_come_with_the_firmware_for_en_and_fr(vm, tmp_path):
    """The prompts are spoken at build time (the image has no espeak-ng): at start the
    media service copied them from the image into the data partition, as 8 kHz files
    (issue: "generated at build time with espeak-ng and stored as 8 kHz files")."""
    prompts = PROMPTS_DIR
    out = _ssh_console(vm.ssh_port, ADMIN_PASSWORD, [
        ("Choice [0-9]: ", "1\r"),
        ("CLI> ", "status\r"),
        ("prompt_error", "exit\r"),
        ("Choice [0-9]: ", "9\r"),
        ("Super admin password: ", f"{ADMIN_PASSWORD}\r"),
        ("to confirm: ", "yes\r"),
        ("returns to the menu.", ""),
        ("$ ", f"for l in en fr; do echo \"prompts-$l: $(ls {prompts}/$l | grep -c 'wav$') files,"
               f" $(soxi -r {prompts}/$l/goodbye.wav) Hz\"; done;"
               " command -v espeak-ng || echo 'espeak-ng: none'; echo checks-$((1 + 1))\r"),
        ("checks-2", "exit\r"),
        ("Choice [0-9]: ", "0\r"),
    ], tmp_path)
    print(out[-3000:])
    assert re.search(r'media: \{"prompts_ready": true, "prompt_error": ""\}', out), out[-3000:]
    for language in ("en", "fr"):
        expected = sum(1 for texts in PROMPTS.values() if language in texts)
        found = re.search(rf"prompts-{language}: (\d+) files, (\d+) Hz", out)
        assert found, out[-3000:]
        assert (int(found.group(1)), int(found.group(2))) == (expected, 8000), found.group(0)
    assert "espeak-ng: none" in out, "the image should not need espeak-ng"


def test_an_mp3_uploaded_on_the_web_is_converted_on_the_box(vm, tmp_path):
    """Seed "Enregistrement et lecture des messages audios": an mp3 upload is converted
    by sox on the box (libsox-fmt-mp3) to what the phones play."""
    need_tool("sox")
    mp3 = tmp_path / "welcome.mp3"
    made = subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(mp3), "synth", "1.5", "sine", "440"],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this host's sox cannot write mp3 (libsox-fmt-mp3): {made.stderr.strip()}")
    session, base, _ = _web_login(vm.https_port, ADMIN_PASSWORD, time.monotonic() + START_TIMEOUT)
    page = session.get(f"{base}/sounds", timeout=30)
    assert page.status_code == 200, page.text[-1500:]
    reply = session.post(f"{base}/sounds", data={"csrf": _csrf(page.text), "name": "welcome"},
                         files={"file": ("welcome.mp3", mp3.read_bytes(), "audio/mpeg")},
                         allow_redirects=False, timeout=120)
    assert reply.status_code == 303, reply.text[-1500:]
    assert "<td>welcome</td>" in session.get(f"{base}/sounds", timeout=30).text
    audio = session.get(f"{base}/sounds/welcome.wav", timeout=30)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    with wave.open(io.BytesIO(audio.content)) as converted:
        assert (converted.getframerate(), converted.getnchannels(), converted.getsampwidth()) == (8000, 1, 2)
        assert 1.4 < converted.getnframes() / 8000 < 1.7  # the whole 1.5 s tone (mp3 pads a little)


def test_reboot_into_the_boot_menu_and_reset_the_admin_password(vm):
    vm.expect(r"", 1)
    vm.send("\r")
    vm.expect(r"login: ", 60)
    vm.send("admin\r")
    vm.expect(r"Password: ", 60)
    vm.send(f"{ADMIN_PASSWORD}\r")
    vm.expect(r"Choice \[0-9\]: ", 120)
    vm.send("7\r")
    vm.expect(r"Type yes to confirm: ", 60)
    vm.send("yes\r")
    vm.expect(r"wpbx boot menu", BOOT_TIMEOUT)
    vm.send("2\r")
    vm.expect(r"Type yes: ", 60)
    vm.send("yes\r")
    vm.expect(r"Admin password reset to the factory default", 60)
    vm.expect(r"Choice \[1-3\]: ", 30)
    vm.send("1\r")
    _, _, reply = _web_login(vm.https_port, "wildix", time.monotonic() + START_TIMEOUT)
    assert reply.url.endswith("/password"), "admin / wildix should work again and force a change"
