"""User call preferences per call class (seed: "Préférences des utilisateurs", Fonctions),
applied by the dial application."""

import pytest

from wpbxd.config import users
from wpbxd.errors import ValidationError
from wpbxd.events import MissedCall
from wpbxd.telephony.dialplan import preferences, procedures
from wpbxd.telephony.dialplan.context import CallEnd, DialStatus, ExtensionState
from wpbxd.telephony.dialplan.engine import Dialplan

from .conftest import FakeCall, add_user, run_call


@pytest.fixture
def office(store):
    for ext in ("100", "101", "102"):
        add_user(store, ext, email=f"u{ext}@example.com")
    return store


def call_101(store, caller="100", **kw):
    call = FakeCall(caller, "101", "users" if caller in ("100", "102") else "main", **kw)
    if call.procedure == "main":
        procedures.add_entry(store, None, "main", "101", [{"app": "dial", "params": {"target": "101"}}])
    return call, run_call(Dialplan.load(store), call)


def test_dnd_rejects_with_busy_for_its_class_only(office):
    preferences.set_prefs(office, None, "101", "internal", {"dnd": "on"})
    call, outcome = call_101(office)
    assert call.rings == [] and outcome.sip_code == 486
    assert "101 rejects all internal calls (do not disturb)" in outcome.trace
    call, outcome = call_101(office, caller="0611", answers={"101": DialStatus.ANSWERED})
    assert call.rung() == [("101",)] and outcome.end == CallEnd.COMPLETED


def test_forward_always_goes_through_the_users_procedure(office):
    preferences.set_prefs(office, None, "101", "all", {"fwd_always": "102"})
    call, outcome = call_101(office, answers={"102": DialStatus.ANSWERED})
    assert call.rung() == [("102",)]
    assert "101 forwards always (internal calls) to 102 (through procedure users)" in outcome.trace


def test_forward_busy_when_the_phone_is_busy(office):
    preferences.set_prefs(office, None, "101", "internal", {"fwd_busy": "102"})
    call, _ = call_101(office, answers={"101": DialStatus.BUSY, "102": DialStatus.ANSWERED})
    assert call.rung() == [("101",), ("102",)]


def test_forward_unavailable_on_no_answer_and_when_not_registered(office):
    preferences.set_prefs(office, None, "101", "internal", {"fwd_unavailable": "102", "call_timeout": 12})
    call, _ = call_101(office, answers={"102": DialStatus.ANSWERED})
    assert call.rung() == [("101",), ("102",)]
    assert call.rings[0][0].ring_time == 12
    call, _ = call_101(office, answers={"102": DialStatus.ANSWERED},
                       states={"101": ExtensionState(registered=False)})
    assert call.rung() == [("102",)]


def test_forward_to_voicemail_runs_the_voicemail_application(office):
    """The voicemail application itself is tested with real media in tests/media_engine;
    this fake call has no media channel, so it ends with 503 after reaching it."""
    preferences.set_prefs(office, None, "101", "internal", {"fwd_always": "voicemail"})
    call, outcome = call_101(office)
    assert "101 forwards always (internal calls) to voicemail" in outcome.trace
    assert outcome.sip_code == 503 and "the call engine gives this call no media channel" in outcome.trace


def test_call_waiting_off_gives_busy_to_a_second_call(office):
    preferences.set_prefs(office, None, "101", "internal", {"call_waiting": "off"})
    call, outcome = call_101(office, states={"101": ExtensionState(True, 1)})
    assert call.rings == [] and outcome.sip_code == 486
    preferences.set_prefs(office, None, "101", "internal", {"call_waiting": "on"})
    call, _ = call_101(office, states={"101": ExtensionState(True, 1)}, answers={"101": DialStatus.ANSWERED})
    assert call.rung() == [("101",)]


def test_mobility_fork_rings_the_mobile_after_the_delay(office):
    users.update_user(office, None, "101", {"mobility": "102"})
    preferences.set_prefs(office, None, "101", "internal", {"mobility_delay": 5})
    call, _ = call_101(office, answers={"102": DialStatus.ANSWERED})
    assert [(t.number, t.delay) for t in call.rings[0]] == [("101", 0.0), ("102", 5.0)]


def test_missed_call_publishes_a_notice_when_asked(office):
    preferences.set_prefs(office, None, "101", "internal", {"missed_email": "on"})
    call, _ = call_101(office)
    assert [type(e) for e in call.events] == [MissedCall]
    assert call.events[0].extension == "101" and call.events[0].caller_number == "100"
    call, _ = call_101(office, answers={"101": DialStatus.ANSWERED})
    assert call.events == []


@pytest.mark.parametrize("values, message", [
    ({"dnd": "maybe"}, "on or off"), ({"fwd_busy": "abc"}, "VOICEMAIL"), ({"call_timeout": 0}, "between"),
    ({"mobility_delay": 3}, "no mobility number"), ({"colour": 1}, "unknown preference")])
def test_bad_preferences_are_refused_and_change_nothing(office, values, message):
    before = preferences.get_prefs(office, "101")
    with pytest.raises(ValidationError, match=message):
        preferences.set_prefs(office, None, "101", "internal", values)
    assert preferences.get_prefs(office, "101") == before


def test_preferences_go_with_the_user(office):
    preferences.set_prefs(office, None, "101", "all", {"dnd": True})
    users.delete_user(office, None, "101")
    assert office.one("SELECT COUNT(*) AS n FROM user_call_prefs")["n"] == 0


def test_a_loop_of_forward_always_is_refused_and_cut_at_run_time(office):
    preferences.set_prefs(office, None, "101", "internal", {"fwd_always": "102"})
    preferences.set_prefs(office, None, "102", "internal", {"fwd_always": "100"})
    with pytest.raises(ValidationError, match="forwarding loop: 100 -> 101 -> 102 -> 100"):
        preferences.set_prefs(office, None, "100", "internal", {"fwd_always": "101"})
    preferences.set_prefs(office, None, "100", "external", {"fwd_always": "101"})  # another class: no loop
    # a loop made behind the service functions' back is still cut by the engine
    office.execute("UPDATE user_call_prefs SET fwd_always = '101' WHERE call_class = 'internal'"
                   " AND user_id = (SELECT id FROM users WHERE extension = '102')")
    call, outcome = call_101(office)
    assert (outcome.end, outcome.sip_code) == (CallEnd.HANGUP, 482) and call.rings == []


def test_the_shorter_of_the_dial_timeout_and_the_callee_call_timeout_applies(office):
    procedures.add_entry(office, None, "main", "101", [{"app": "dial", "params": {"target": "101", "timeout": 8}}])
    for pref, expected in ((None, 8), (5, 5), (30, 8)):
        preferences.set_prefs(office, None, "101", "external", {"call_timeout": pref})
        call = FakeCall("0611", "101", "main")
        run_call(Dialplan.load(office), call)
        assert call.rings[0][0].ring_time == expected, pref
