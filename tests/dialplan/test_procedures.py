"""Procedures as data: service functions, and bad data refused at save time
(seed: "Ajouter et modifier des procédures de Dialplan", "Procédures incluses")."""

import pytest

from wpbxd.bus import EventBus
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.dialplan import catalog, procedures

from .conftest import add_user

DIAL = {"app": "dial", "params": {"target": "${called}"}}


def snapshot(store):
    return [procedures.get_procedure(store, p["name"]) for p in procedures.list_procedures(store)]


def test_factory_defaults_are_the_seed_procedures(store):
    names = [p["name"] for p in procedures.list_procedures(store)]
    assert names == ["kite", "main", "pbxinternal", "users"]
    assert procedures.get_procedure(store, "users")["includes"] == ["pbxinternal"]


def test_changes_publish_config_changed(store):
    bus = EventBus()
    seen = []
    bus.subscribe(ConfigChanged, seen.append)
    procedures.add_procedure(store, bus, "night", "closed hours")
    procedures.add_entry(store, bus, "night", "1XX", [DIAL])
    assert [e.section for e in seen] == ["dialplan", "dialplan"]


def test_entries_and_applications_keep_their_order(store):
    procedures.add_procedure(store, None, "p")
    procedures.add_entry(store, None, "p", "1XX", [DIAL])
    procedures.add_entry(store, None, "p", "2XX", [], position=0)
    procedures.add_app(store, None, "p", "1XX", "answer", {}, position=0)
    procedures.add_app(store, None, "p", "1XX", "hangup", {"code": 486})
    procedures.move_app(store, None, "p", "1XX", 2, 0)
    proc = procedures.get_procedure(store, "p")
    assert [e["pattern"] for e in proc["entries"]] == ["2XX", "1XX"]
    assert [a["app"] for a in proc["entries"][1]["apps"]] == ["hangup", "answer", "dial"]
    procedures.delete_app(store, None, "p", "1XX", 0)
    assert [a["app"] for a in procedures.current_apps(store, "p", "1XX")] == ["answer", "dial"]


@pytest.mark.parametrize("apps, message", [
    ([{"app": "goto", "params": {"procedure": "nowhere"}}], "no procedure 'nowhere'"),
    ([{"app": "frobnicate", "params": {}}], "unknown application 'frobnicate'"),
    ([{"app": "dial", "params": {}}], "dial needs a target"),
    ([{"app": "dial", "params": {"target": "100", "timeout": "soon"}}], "timeout"),
    ([{"app": "time_check", "params": {"range": "office", "procedure": "main"}}], "no time range 'office'"),
    ([{"app": "switch_check", "params": {"switch": "sw", "on": "main"}}], "no switch 'sw'"),
    ([{"app": "call_group", "params": {"group": "g"}}], "no call group 'g'"),
    ([{"app": "hangup", "params": {"code": 200}}], "between 400 and 699"),
])
def test_bad_applications_are_refused_naming_where_and_nothing_changes(store, apps, message):
    before = snapshot(store)
    with pytest.raises(ValidationError, match=message) as err:
        procedures.add_entry(store, None, "main", "100", apps)
    assert "procedure 'main', called number '100', application 1" in str(err.value)
    assert snapshot(store) == before


@pytest.mark.parametrize("pattern", ["1[23", "0.1", "12a", "[]", ""])
def test_invalid_patterns_are_refused(store, pattern):
    with pytest.raises(ValidationError):
        procedures.add_entry(store, None, "main", pattern, [DIAL])


def test_a_loop_of_gotos_is_refused(store):
    procedures.add_procedure(store, None, "a")
    procedures.add_procedure(store, None, "b")
    procedures.add_entry(store, None, "a", "1XX", [{"app": "goto", "params": {"procedure": "b"}}])
    before = snapshot(store)
    with pytest.raises(ValidationError, match=r"loop of gotos for called number '100': a -> b -> a"):
        procedures.add_entry(store, None, "b", "X.", [{"app": "goto", "params": {"procedure": "a"}}])
    assert snapshot(store) == before
    # not a loop: b sends only 2XX back, which a does not send to b
    procedures.add_entry(store, None, "b", "2XX", [{"app": "goto", "params": {"procedure": "a"}}])
    with pytest.raises(ValidationError, match="loop of gotos"):
        procedures.add_entry(store, None, "a", "default", [{"app": "goto", "params": {"procedure": "a"}}])


def test_a_goto_to_a_fixed_number_that_comes_back_is_a_loop(store):
    procedures.add_procedure(store, None, "a")
    procedures.add_entry(store, None, "a", "5", [{"app": "goto", "params": {"procedure": "main", "number": "6"}}])
    with pytest.raises(ValidationError, match="loop of gotos"):
        procedures.add_entry(store, None, "main", "6", [{"app": "goto", "params": {"procedure": "a", "number": "5"}}])


def test_rename_follows_every_reference_and_delete_refuses_used_ones(store):
    add_user(store, "100")
    procedures.add_procedure(store, None, "closed")
    procedures.add_entry(store, None, "main", "1", [{"app": "goto", "params": {"procedure": "closed"}}])
    procedures.update_procedure(store, None, "closed", new_name="bureau_ferme")
    assert procedures.current_apps(store, "main", "1")[0]["params"]["procedure"] == "bureau_ferme"
    with pytest.raises(ValidationError, match="used by procedure 'main'"):
        procedures.delete_procedure(store, None, "bureau_ferme")
    with pytest.raises(ValidationError, match="dialplan of user"):
        procedures.delete_procedure(store, None, "users")
    with pytest.raises(ValidationError, match="included by users"):
        procedures.delete_procedure(store, None, "pbxinternal")
    procedures.delete_entry(store, None, "main", "1")
    procedures.delete_procedure(store, None, "bureau_ferme")
    with pytest.raises(NotFound):
        procedures.get_procedure(store, "bureau_ferme")


def test_duplicates_and_bad_names_are_refused(store):
    with pytest.raises(Conflict):
        procedures.add_procedure(store, None, "main")
    with pytest.raises(ValidationError):
        procedures.add_procedure(store, None, "bad name!")
    procedures.add_entry(store, None, "main", "100", [DIAL])
    with pytest.raises(Conflict):
        procedures.add_entry(store, None, "main", "100", [DIAL])
    with pytest.raises(ValidationError, match="include itself"):
        procedures.set_includes(store, None, "main", ["main"])


def test_media_applications_may_be_named_before_they_exist(store):
    procedures.add_entry(store, None, "main", "100", [{"app": "voicemail", "params": {"box": "100"}}])


def test_time_ranges_refuse_bad_grids(store):
    with pytest.raises(ValidationError, match="ends before it starts"):
        catalog.set_time_range(store, None, "t", weekly="mon 18:00-08:00")
    with pytest.raises(ValidationError, match="days are"):
        catalog.set_time_range(store, None, "t", weekly="monday 08:00-18:00")
    with pytest.raises(ValidationError, match="not a date"):
        catalog.set_time_range(store, None, "t", exceptions=[{"date": "2026-13-01"}])
    grid = catalog.set_time_range(store, None, "t", weekly="mon-wed,fri 08:00-12:00,14:00-24:00")["weekly"]
    assert sorted(grid) == ["fri", "mon", "tue", "wed"] and grid["mon"][1] == ["14:00", "24:00"]


def test_renaming_a_switch_time_range_or_group_moves_its_references(store):
    add_user(store, "100")
    catalog.add_switch(store, None, "night")
    catalog.set_time_range(store, None, "office", weekly="mon 08:00-18:00")
    catalog.set_group(store, None, "sales", members=["100"])
    procedures.add_procedure(store, None, "closed")
    procedures.add_entry(store, None, "main", "1", [
        {"app": "switch_check", "params": {"switch": "night", "on": "closed"}},
        {"app": "time_check", "params": {"range": "office", "procedure": "closed"}},
        {"app": "call_group", "params": {"group": "sales"}}])
    catalog.rename(store, None, "switch", "night", "nuit")
    catalog.rename(store, None, "time_range", "office", "bureau")
    catalog.rename(store, None, "call_group", "sales", "ventes")
    apps = procedures.current_apps(store, "main", "1")
    assert [apps[0]["params"]["switch"], apps[1]["params"]["range"], apps[2]["params"]["group"]] == [
        "nuit", "bureau", "ventes"]
    assert catalog.get_group(store, "ventes")["members"] == [{"extension": "100", "ring_time": None}]
    with pytest.raises(Conflict):
        catalog.rename(store, None, "switch", "nuit", "nuit")
