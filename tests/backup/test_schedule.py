"""Scheduled backups (seed: "Sauvegarde périodique (planifiée)"): when they are due, where
they go (backups area, a real FTP server on loopback), and retention there."""

import asyncio
import json
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.daemon_runner import free_port
from wpbxd.bus import EventBus
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.control import ControlServer
from wpbxd.hw import areas
from wpbxd.service import DaemonConfig, ServiceContext
from wpbxd.services import backup
from wpbxd.services.backup import BackupService, Schedule, is_due, next_run


def sched(frequency: str, hour: int = 2, minute: int = 0, weekday: int = 0, monthday: int = 1,
          last_run: float | None = None, enabled: bool = True) -> Schedule:
    return Schedule(1, frequency, hour, minute, weekday, monthday, "local", "", 21, "", "", "", None, 7,
                    enabled, last_run, "")


def ts(text: str, zone=UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_next_run_daily_weekly_monthly():
    assert next_run(sched("daily"), ts("2026-03-10 01:59")) == ts("2026-03-10 02:00")
    assert next_run(sched("daily"), ts("2026-03-10 02:00")) == ts("2026-03-11 02:00")
    # 2026-03-10 is a Tuesday; weekday 4 = Friday
    assert next_run(sched("weekly", weekday=4), ts("2026-03-10 12:00")) == ts("2026-03-13 02:00")
    assert next_run(sched("weekly", weekday=1), ts("2026-03-10 12:00")) == ts("2026-03-17 02:00")
    assert next_run(sched("monthly", monthday=15), ts("2026-03-10 12:00")) == ts("2026-03-15 02:00")
    assert next_run(sched("monthly", monthday=5), ts("2026-12-10 12:00")) == ts("2027-01-05 02:00")


def test_next_run_follows_the_pbx_time_zone_across_daylight_saving():
    paris = ZoneInfo("Europe/Paris")
    # the night of 2026-03-29 skips 02:00-03:00 in Paris; 03:30 exists on both days
    assert next_run(sched("daily", 3, 30), ts("2026-03-28 04:00", paris), paris) == ts("2026-03-29 03:30", paris)
    saturday = next_run(sched("daily", 3, 30), ts("2026-03-28 00:00", paris), paris)
    sunday = next_run(sched("daily", 3, 30), saturday, paris)
    assert sunday - saturday == 23 * 3600  # same wall-clock time, one hour less in between


def test_due_once_after_the_last_run():
    created = ts("2026-03-10 12:00")
    s = sched("daily", last_run=created)
    assert not is_due(s, ts("2026-03-11 01:59"))
    assert is_due(s, ts("2026-03-11 02:00"))
    assert not is_due(sched("daily", last_run=ts("2026-03-11 02:00")), ts("2026-03-11 02:30"))
    assert not is_due(sched("daily", last_run=created, enabled=False), ts("2026-03-12 02:00"))


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_service_runs_a_due_schedule_once_with_an_injected_clock(tmp_path):
    store = Store(tmp_path / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    clock = FakeClock(ts("2026-03-10 12:00"))

    async def scenario():
        ctx = ServiceContext(config=DaemonConfig(data_dir=tmp_path), store=store, bus=EventBus(),
                             control=ControlServer(tmp_path / "sock"), clock=clock)
        service = BackupService(ctx)
        areas.ensure_areas(tmp_path)
        made = await ctx.control.call("backup.schedule.add", {"frequency": "daily", "hour": 2, "keep": 2})
        assert made["last_result"] == "created"
        manual = await ctx.control.call("backup.create", {})
        assert await service.run_due(ts("2026-03-11 01:00")) == []
        days = []
        for day in ("2026-03-11", "2026-03-12", "2026-03-13"):
            clock.now = ts(f"{day} 02:00:05")
            days.append(await service.run_due(clock.now))
            assert await service.run_due(clock.now + 60) == []  # once per day
        return manual, days

    manual, days = asyncio.run(scenario())
    assert all(len(d) == 1 and d[0].startswith("ok: wpbx-backup-s1-") for d in days)
    names = sorted(p.name for p in areas.area_path(tmp_path, "backups").iterdir())
    assert manual["name"] in names  # retention never deletes a manual backup
    assert [n for n in names if n.startswith("wpbx-backup-s1-")] == [
        "wpbx-backup-s1-20260312-020005.tar.gz", "wpbx-backup-s1-20260313-020005.tar.gz"]
    store.close()


@pytest.fixture
def ftp_server(tmp_path):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    root = tmp_path / "ftp"
    (root / "pbx").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user("backup", "Ftp!pass1", str(root), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "passive_ports": None})
    port = free_port()
    server = FTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    yield port, root / "pbx"
    server.close_all()
    thread.join(5)


def test_schedule_sends_to_a_real_ftp_server_and_keeps_the_newest(wpbxd, ftp_server, tmp_path):
    port, folder = ftp_server
    wpbxd.ctl("user", "add", "--extension", "301", "--name", "Dora", "--sip-password", "G00d!pass")
    out = wpbxd.ctl("backup", "schedule", "add", "--frequency", "weekly", "--at", "03:15", "--target", "ftp",
                    "--ftp-host", "127.0.0.1", "--ftp-port", str(port), "--ftp-user", "backup",
                    "--ftp-password", "Ftp!pass1", "--ftp-dir", "pbx", "--keep", "2", "--json").stdout
    schedule = json.loads(out)
    assert schedule["ftp_password"] == "********"
    results = []
    for _ in range(3):
        results.append(wpbxd.ctl("backup", "schedule", "run", str(schedule["id"])).stdout)
    assert all(r.startswith("ok: wpbx-backup-s") for r in results)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and all(n.startswith(f"wpbx-backup-s{schedule['id']}-") for n in names)
    manifest = backup.verify_backup(folder / names[-1], 10**6)
    assert any(f["path"] == "db/wpbx.db" for f in manifest["files"])
    assert not list(wpbxd.data_dir.glob(".backup-out-*"))  # the local copy went away
    listed = json.loads(wpbxd.ctl("backup", "schedule", "list", "--json").stdout)
    assert listed[0]["last_result"].startswith("ok")


def test_ftp_failure_is_recorded_not_raised(wpbxd):
    dead = free_port()
    made = wpbxd.call("backup.schedule.add", {"target": "ftp", "ftp_host": "127.0.0.1", "ftp_port": dead})
    result = wpbxd.ctl("backup", "schedule", "run", str(made["id"]), check=False)
    assert result.returncode == 1 and result.stdout.startswith("failed:")
    assert wpbxd.call("backup.schedule.list")[0]["last_result"].startswith("failed:")
    bad = wpbxd.ctl("backup", "schedule", "add", "--target", "share", "--share", "nowhere", check=False)
    assert bad.returncode == 1 and "no share 'nowhere'" in bad.stderr


def test_retention_orders_same_second_archives_by_serial():
    names = ["wpbx-backup-s1-20260311-020005-1.tar.gz", "wpbx-backup-s1-20260311-020005.tar.gz",
             "wpbx-backup-s1-20260310-020005.tar.gz", "wpbx-backup-20260301-000000.tar.gz",
             "wpbx-backup-s2-20260301-000000.tar.gz", "notes.txt"]
    assert backup._oldest_beyond(names, "s1", 2) == ["wpbx-backup-s1-20260310-020005.tar.gz"]
    assert backup._oldest_beyond(names, "s1", 1) == [
        "wpbx-backup-s1-20260310-020005.tar.gz", "wpbx-backup-s1-20260311-020005.tar.gz"]
    assert backup._unique("wpbx-backup-s1-20260311-020005.tar.gz", names) == \
        "wpbx-backup-s1-20260311-020005-2.tar.gz"


def test_schedule_mails_the_backup_through_the_smtp_profile(wpbxd, tmp_path):
    """Seed: scheduled backups to a share, FTP *or email*; the archive arrives attached and verifies."""
    controller_mod = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in deps/pip-test.txt")
    import email
    from email import policy

    received = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    refused = wpbxd.ctl("backup", "schedule", "add", "--target", "email", check=False)
    assert refused.returncode == 1 and "email_to" in refused.stderr
    controller = controller_mod.Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        wpbxd.call("smtp.set", {"values": {"sender": "pbx@example.com", "server": "127.0.0.1",
                                           "port": controller.port}})
        made = json.loads(wpbxd.ctl("backup", "schedule", "add", "--target", "email",
                                    "--email-to", "ops@example.com", "--json").stdout)
        result = wpbxd.ctl("backup", "schedule", "run", str(made["id"])).stdout
    finally:
        controller.stop()
    assert "mailed to ops@example.com" in result
    assert len(received) == 1 and received[0]["To"] == "ops@example.com"
    attachment = next(received[0].iter_attachments())
    archive = tmp_path / attachment.get_filename()
    archive.write_bytes(attachment.get_content())
    manifest = backup.verify_backup(archive, 10**6)
    assert any(f["path"] == "db/wpbx.db" for f in manifest["files"])
    dead = wpbxd.ctl("backup", "schedule", "run", str(made["id"]), check=False)
    assert dead.returncode == 1 and dead.stdout.startswith("failed:")
