"""The RS-232 console through a pty pair, typed into like a person.

Seed chapter "Accès au PBX via le port série RS-232 et SSH": boot menu with a
countdown, *Reset root password* (admin / wildix), *Recover System* (factory reset,
authorised: here the confirmation word and the box's recovery code), then a login
and the console menu. Never the machine's own /dev/ttyS0.
"""

import threading
from pathlib import Path

import pytest

from tests.console.ptycable import PtyCable
from tests.daemon_runner import Wpbxd, free_port, free_rtp_range
from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.console import recovery
from wpbxd.hw import areas

NEW_PASSWORD = "N3w!passw"


def prepare(data_dir: Path, countdown: int) -> str:
    """A box that was set up before: changed admin password, a user, a ban, files."""
    data_dir.mkdir(parents=True)
    store = Store(data_dir / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    users.set_passwords(store, None, "admin", web_password=NEW_PASSWORD)
    store.execute("UPDATE users SET must_change_password = 0 WHERE login = 'admin'")
    users.add_user(store, None, {"type": "user", "name": "Alice", "extension": "101"},
                   sip_password="G00d!pass")
    store.execute("INSERT INTO sip_bans(address, banned_at, until) VALUES ('192.0.2.7', 1, 9e9)")
    recovery.set_boot_countdown(store, countdown)
    code = recovery.recovery_code(store)
    store.close()
    areas.ensure_areas(data_dir)
    (areas.area_path(data_dir, "voicemail") / "101").mkdir()
    (areas.area_path(data_dir, "voicemail") / "101" / "msg0001.wav").write_bytes(b"RIFF" + b"\0" * 100)
    (areas.area_path(data_dir, "backups") / "keep.tar").write_bytes(b"backup")
    return code


class BootingDaemon:
    """wpbxd started in the background: its start waits for the boot menu."""

    def __init__(self, data_dir: Path, tty: Path) -> None:
        self.daemon = Wpbxd(data_dir=data_dir, sip_port=free_port(), web_port=free_port(),
                            rtp=free_rtp_range(), extra_args=["--console-tty", str(tty)])
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            self.daemon.start()
        except BaseException as err:  # reported by ready()
            self.error = err

    def ready(self) -> Wpbxd:
        self.thread.join(30)
        if self.error:
            raise self.error
        return self.daemon


@pytest.fixture
def cable(tmp_path):
    cable = PtyCable(tmp_path / "ttyCONSOLE")
    yield cable
    cable.close()


@pytest.fixture
def booting(tmp_path, cable):
    started: list[BootingDaemon] = []

    def start(data_dir: Path) -> BootingDaemon:
        started.append(BootingDaemon(data_dir, cable.path))
        return started[-1]

    yield start
    for b in started:
        b.thread.join(30)
        b.daemon.stop()


def read_store(data_dir: Path) -> Store:
    return Store(data_dir / "wpbx.db")


def test_boot_menu_times_out_into_a_normal_start_then_asks_for_a_login(tmp_path, cable, booting):
    data = tmp_path / "pbx"
    prepare(data, countdown=1)
    boot = booting(data)
    cable.expect(r"1  Boot normally")
    cable.expect(r"No choice made: booting normally")
    daemon = boot.ready()
    assert daemon.call("status")["console"]["line_open"] is True
    cable.expect(r"login: ")
    store = read_store(data)
    assert users.check_web_password(store, "admin", NEW_PASSWORD) is not None
    assert store.one("SELECT COUNT(*) AS n FROM sip_bans")["n"] == 1
    assert store.one("SELECT COUNT(*) AS n FROM users")["n"] == 2


def test_reset_admin_password_gives_admin_wildix_must_change_and_lifts_bans(tmp_path, cable, booting):
    data = tmp_path / "pbx"
    prepare(data, countdown=3)
    boot = booting(data)
    cable.expect(r"Choice \[1-3\]: ")
    cable.type("2\r")
    cable.expect(r"Type yes: ")
    cable.type("yes\r")
    cable.expect(r"1 ban\(s\) lifted")
    cable.expect(r"Choice \[1-3\]: ")
    cable.type("1\r")
    daemon = boot.ready()
    store = read_store(data)
    admin = users.check_web_password(store, "admin", "wildix")
    assert admin is not None and admin.must_change_password
    assert users.check_web_password(store, "admin", NEW_PASSWORD) is None
    assert store.one("SELECT COUNT(*) AS n FROM sip_bans")["n"] == 0
    assert store.one("SELECT COUNT(*) AS n FROM users")["n"] == 2  # nothing else changed
    # the serial login now takes admin / wildix, and the menu follows
    cable.expect(r"login: ")
    cable.type("admin\r")
    cable.expect(r"Password: ")
    cable.type("wildix\r")
    cable.expect(r"The admin password must be changed")
    cable.expect(r"wpbx console \(serial\)")
    cable.expect(r"Choice \[0-9\]: ")
    cable.type("7\r")
    cable.expect(r"Reboot the PBX.*Type yes to confirm: ")
    cable.type("no\r")
    cable.expect(r"Cancelled")
    # a pulled cable ends the session; plugged again, the line asks for a login
    cable.pull()
    cable.plug()
    cable.type("\r")
    cable.expect(r"login: ")
    assert daemon.call("status")["console"]["state"] == "login"


def test_recover_system_needs_the_word_and_the_recovery_code(tmp_path, cable, booting):
    data = tmp_path / "pbx"
    code = prepare(data, countdown=3)
    boot = booting(data)
    cable.expect(r"Choice \[1-3\]: ")
    cable.type("\r")  # a person is there: the countdown stops
    cable.expect(r"Choice \[1-3\]: ")
    cable.pull()  # a loose cable at the boot menu: plugged back, the menu is shown again
    cable.plug()
    cable.expect(r"(?s)\(line back\).*3  Recover system.*Choice \[1-3\]: ")
    cable.type("3\r")
    cable.expect(r"Type RECOVER to go on: ")
    cable.type("RECOVER\r")
    cable.expect(r"Recovery code \(box label\): ")
    cable.type("ABCD-EFGH-JKLM\r")
    cable.expect(r"Wrong recovery code; nothing changed")
    store = read_store(data)
    assert store.one("SELECT COUNT(*) AS n FROM users")["n"] == 2
    store.close()
    cable.type("3\rrecover\r")
    cable.expect(r"Cancelled; nothing changed")
    cable.type(f"3\rRECOVER\r{code}\r")
    cable.expect(r"System recovered")
    cable.type("1\r")
    daemon = boot.ready()
    store = read_store(data)
    assert [u.login for u in users.list_users(store)] == ["admin"]
    assert users.check_web_password(store, "admin", "wildix").must_change_password
    assert store.one("SELECT COUNT(*) AS n FROM sip_bans")["n"] == 0
    assert recovery.recovery_code(store) == code  # the label does not change
    assert not (areas.area_path(data, "voicemail") / "101").exists()
    assert (areas.area_path(data, "backups") / "keep.tar").exists()
    assert daemon.call("status")["users"] == 1
