"""Settings > Backup over the backup service: create, verify, restore (confirmed), schedules."""

import pytest


@pytest.fixture
def admin(web):
    if "backup.create" not in web.daemon.call("help"):
        pytest.skip("the backup service is not in this daemon")
    return web.admin()


def test_backup_create_verify_and_a_confirmed_restore(web, admin):
    r = web.post(admin, "/settings/backup", {"action": "create"})
    assert r.status_code == 303, r.text[-1500:]
    backups = web.daemon.call("backup.list")
    name = backups[-1]["name"]
    assert name in web.get(admin, "/settings/backup").text
    r = web.post(admin, "/settings/backup", {"action": "verify", "backup": name})
    assert r.status_code == 303
    web.daemon.call("user.add", {"name": "After Backup", "extension": "180"})
    r = web.post(admin, "/settings/backup", {"action": "restore", "backup": name})
    assert r.status_code == 400 and "tick the box" in r.text
    assert web.daemon.call("user.list", {"search": "After Backup"})  # nothing restored
    r = web.post(admin, "/settings/backup", {"action": "restore", "backup": name, "confirm": "1"})
    assert r.status_code == 303, r.text[-1500:]
    assert web.daemon.call("user.list", {"search": "After Backup"}) == []


def test_backup_schedules_are_validated_added_and_deleted(web, admin):
    form = {"action": "schedule_add", "frequency": "weekly", "hour": "25", "minute": "30",
            "weekday": "5", "monthday": "", "target": "local", "keep": "4", "enabled": "1"}
    r = web.post(admin, "/settings/backup", form)
    assert r.status_code == 400 and 'id="f-hour-err"' in r.text and 'value="25"' in r.text
    assert web.daemon.call("backup.schedule.list") == []
    r = web.post(admin, "/settings/backup", {**form, "hour": "3"})
    assert r.status_code == 303
    schedule = web.daemon.call("backup.schedule.list")[0]
    assert (schedule["frequency"], schedule["hour"], schedule["weekday"]) == ("weekly", 3, 5)
    assert "weekly 03:30 on Saturday" in web.get(admin, "/settings/backup").text
    r = web.post(admin, "/settings/backup", {"action": "schedule_del", "id": str(schedule["id"])})
    assert r.status_code == 303 and web.daemon.call("backup.schedule.list") == []
