"""Call groups with each distribution strategy, and ACL call classes."""

import pytest

from wpbxd.config import settings, users
from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import catalog, preferences, procedures
from wpbxd.telephony.dialplan.callclass import ClassRules
from wpbxd.telephony.dialplan.context import CallEnd, DialStatus, ExtensionState
from wpbxd.telephony.dialplan.engine import Dialplan

from .conftest import FakeCall, add_user, run_call

MEMBERS = ("201", "202", "203")


@pytest.fixture
def grouped(store):
    for ext in MEMBERS:
        add_user(store, ext)
    catalog.set_group(store, None, "sales", members=list(MEMBERS))
    procedures.add_entry(store, None, "main", "500", [
        {"app": "call_group", "params": {"group": "sales"}}, {"app": "hangup", "params": {"code": 480}}])
    return store


def ring_group(store, strategy, answers=None, states=None, plan=None, **group):
    catalog.set_group(store, None, "sales", strategy=strategy, members=list(MEMBERS), **group)
    plan = Dialplan.load(store, plan)
    call = FakeCall("0611", "500", "main", answers=answers or {}, states=states or {})
    return call, run_call(plan, call), plan


def test_ring_all_rings_everybody_with_member_ring_times(grouped):
    catalog.set_group(grouped, None, "sales", strategy="ringall", members=["201:5", "202", "203"], ring_time=9)
    call = FakeCall("0611", "500", "main", answers={"202": DialStatus.ANSWERED})
    outcome = run_call(Dialplan.load(grouped), call)
    assert call.rung() == [MEMBERS] and outcome.end == CallEnd.COMPLETED
    assert [t.ring_time for t in call.rings[0]] == [5, 9, 9]


def test_linear_hunts_in_order_until_someone_answers(grouped):
    call, outcome, _ = ring_group(grouped, "linear", {"203": DialStatus.ANSWERED})
    assert call.rung() == [("201",), ("202",), ("203",)]


def test_linear_stops_at_the_group_timeout_and_runs_the_next_application(grouped):
    call, outcome, _ = ring_group(grouped, "linear", ring_time=15, timeout=20)
    assert call.rung() == [("201",), ("202",)]
    assert [t.ring_time for a in call.rings for t in a] == [15, 5]
    assert call.hangups == [(480, "Temporarily Unavailable")]


def test_round_robin_starts_after_the_member_rung_last(grouped):
    call, _, plan = ring_group(grouped, "roundrobin", {"201": DialStatus.ANSWERED})
    assert call.rung() == [("201",)]
    call, _, plan = ring_group(grouped, "roundrobin", {"201": DialStatus.ANSWERED, "202": DialStatus.ANSWERED},
                               plan=plan)
    assert call.rung() == [("202",)]
    call, _, plan = ring_group(grouped, "roundrobin", {"201": DialStatus.ANSWERED}, plan=plan)
    assert call.rung() == [("203",), ("201",)]


def test_least_recent_starts_with_who_answered_least_recently(grouped):
    call, _, plan = ring_group(grouped, "leastrecent", {"201": DialStatus.ANSWERED})
    assert call.rung() == [("201",)]
    call, _, plan = ring_group(grouped, "leastrecent", {"202": DialStatus.ANSWERED, "201": DialStatus.ANSWERED},
                               plan=plan)
    assert call.rung() == [("202",)]
    call, _, plan = ring_group(grouped, "leastrecent", {"203": DialStatus.ANSWERED}, plan=plan)
    assert call.rung() == [("203",)]


def test_random_rings_every_member_once_in_some_order(grouped):
    call, _, _ = ring_group(grouped, "random")
    assert sorted(call.rung()) == [(m,) for m in MEMBERS]


def test_busy_dnd_and_unregistered_members_are_skipped(grouped):
    preferences.set_prefs(grouped, None, "202", "external", {"dnd": "on"})
    states = {"201": ExtensionState(True, 1), "203": ExtensionState(False)}
    call, outcome, _ = ring_group(grouped, "ringall", states=states)
    assert call.rings == []
    text = "\n".join(outcome.trace)
    assert "201 skipped: busy in another call" in text and "202 skipped: do not disturb" in text
    assert "203 skipped: not registered" in text
    call, _, _ = ring_group(grouped, "linear", states=states, ring_in_use=True)
    assert call.rung() == [("201",)]


def test_bad_groups_are_refused(grouped):
    with pytest.raises(ValidationError, match="no user"):
        catalog.set_group(grouped, None, "x", members=["999"])
    with pytest.raises(ValidationError, match="ringall"):
        catalog.set_group(grouped, None, "x", strategy="loudest")
    with pytest.raises(ValidationError, match="used by procedure 'main'"):
        catalog.delete_group(grouped, None, "sales")


@pytest.mark.parametrize("number, expected", [
    ("101", "internal"), ("112", "emergency"), ("0145678900", "national"), ("0612345678", "mobile"),
    ("0812345678", "premium"), ("0039061234", "international"), ("+3906123", "international"),
    ("+33612345678", "mobile"), ("0033145678900", "national")])
def test_call_classes_come_from_the_general_prefixes(number, expected):
    assert ClassRules().classify(number, {"101"})[0] == expected


def test_acl_denies_a_class_with_403_and_a_clear_trace(store):
    add_user(store, "101")
    procedures.add_entry(store, None, "users", "0X.", [{"app": "dial", "params": {"target": "${called}"}}])
    plan = Dialplan.load(store)
    call = FakeCall("101", "0039061234", "users")
    outcome = run_call(plan, call)
    assert (outcome.end, outcome.sip_code) == (CallEnd.HANGUP, 403) and call.rings == []
    assert any("ACL: user 101 (group default) may not call 0039061234: class international" in line
               for line in outcome.trace)
    call = FakeCall("101", "0612345678", "users", answers={"0612345678": DialStatus.ANSWERED})
    assert run_call(plan, call).end == CallEnd.COMPLETED


def test_acl_follows_settings_and_groups(store):
    add_user(store, "101")
    catalog.set_acl(store, None, "restricted", ["internal", "emergency"])
    users.update_user(store, None, "101", {"acl_group": "restricted"})
    settings.set_value(store, None, "dialplan.mobile_prefixes", "9")
    procedures.add_entry(store, None, "users", "0X.", [{"app": "dial", "params": {"target": "${called}"}}])
    call = FakeCall("101", "0912345678", "users")
    outcome = run_call(Dialplan.load(store), call)
    assert outcome.sip_code == 403 and any("class mobile" in line for line in outcome.trace)
    with pytest.raises(ValidationError, match="unknown call class"):
        catalog.set_acl(store, None, "x", ["satellite"])


def test_a_forward_to_an_external_number_is_charged_to_the_forwarding_user(store):
    add_user(store, "101")
    catalog.set_acl(store, None, "internal_only", ["internal"])
    users.update_user(store, None, "101", {"acl_group": "internal_only"})
    preferences.set_prefs(store, None, "101", "external", {"fwd_always": "0039061234"})
    procedures.add_entry(store, None, "users", "0X.", [{"app": "dial", "params": {"target": "${called}"}}])
    procedures.add_entry(store, None, "main", "101", [{"app": "dial", "params": {"target": "101"}}])
    call = FakeCall("0611", "101", "main")
    outcome = run_call(Dialplan.load(store), call)
    assert outcome.sip_code == 403 and call.rings == []


def test_emergency_numbers_pass_any_acl_unless_the_admin_says_otherwise(store):
    add_user(store, "101")
    catalog.set_acl(store, None, "nothing", [])
    users.update_user(store, None, "101", {"acl_group": "nothing"})
    call = FakeCall("101", "112", "users", answers={"112": DialStatus.ANSWERED})
    outcome = run_call(Dialplan.load(store), call)
    assert outcome.end == CallEnd.COMPLETED and any("emergency number" in line for line in outcome.trace)
    settings.set_value(store, None, "dialplan.emergency_bypasses_acl", 0)
    call = FakeCall("101", "112", "users")
    assert run_call(Dialplan.load(store), call).sip_code == 403


def test_acl_classifies_the_number_as_dialled_not_as_stripped_for_the_trunk(store):
    """Seed "users" example: 0[67]. strips the outside-line 0 before the GSM route;
    the call stays a mobile call for the ACL."""
    add_user(store, "101")
    catalog.set_acl(store, None, "fixed_only", ["internal", "national"])
    users.update_user(store, None, "101", {"acl_group": "fixed_only"})
    procedures.add_procedure(store, None, "gsm_calls")
    procedures.add_entry(store, None, "gsm_calls", "X.", [{"app": "dial", "params": {"target": "${called}"}}])
    procedures.add_entry(store, None, "users", "0[67].", [
        {"app": "set_called", "params": {"strip": 1}}, {"app": "goto", "params": {"procedure": "gsm_calls"}}])
    call = FakeCall("101", "0612345678", "users")
    outcome = run_call(Dialplan.load(store), call)
    assert outcome.sip_code == 403 and call.rings == []
    assert any("may not call 612345678 (dialled as 0612345678): class mobile" in line for line in outcome.trace)


def test_round_robin_memory_survives_a_reload_without_the_previous_snapshot(grouped):
    catalog.set_group(grouped, None, "sales", strategy="roundrobin", members=list(MEMBERS))
    call = FakeCall("0611", "500", "main", answers={"201": DialStatus.ANSWERED})
    run_call(Dialplan.load(grouped), call)
    catalog.add_switch(grouped, None, "unrelated")        # any change: the call engine recompiles
    call = FakeCall("0611", "500", "main", answers={"202": DialStatus.ANSWERED})
    run_call(Dialplan.load(grouped), call)
    assert call.rung() == [("202",)]


def test_members_follow_their_users_extension_and_leave_with_the_user(grouped):
    catalog.set_group(grouped, None, "sales", members=list(MEMBERS))
    users.update_user(grouped, None, "202", {"extension": "212"})
    users.delete_user(grouped, None, "203")
    assert [m["extension"] for m in catalog.get_group(grouped, "sales")["members"]] == ["201", "212"]
    assert [m.extension for m in Dialplan.load(grouped).groups["sales"].members] == ["201", "212"]


def test_migration_0402_keeps_members_stored_by_extension(tmp_path, monkeypatch):
    import shutil as sh

    from wpbxd.config import store as store_module
    from wpbxd.config.defaults import apply_factory_defaults
    from wpbxd.config.store import Store

    early = tmp_path / "migrations"
    early.mkdir()
    for path in store_module.MIGRATIONS_DIR.glob("*.sql"):
        if path.name < "0402":
            sh.copy(path, early / path.name)
    monkeypatch.setattr(store_module, "MIGRATIONS_DIR", early)
    s = Store(tmp_path / "old.db")
    s.migrate()
    apply_factory_defaults(s)
    s.execute("INSERT INTO users(name, extension) VALUES ('A', '201'), ('B', '202')")
    s.execute("INSERT INTO call_groups(name) VALUES ('sales')")
    s.execute("INSERT INTO call_group_members(group_name, extension, position, ring_time)"
              " VALUES ('sales', '202', 0, 7), ('sales', '201', 1, NULL), ('sales', '999', 2, NULL)")
    monkeypatch.undo()
    assert "0402_call_group_members_by_user" in s.migrate()
    assert catalog.get_group(s, "sales")["members"] == [{"extension": "202", "ring_time": 7},
                                                        {"extension": "201", "ring_time": None}]
    s.close()
