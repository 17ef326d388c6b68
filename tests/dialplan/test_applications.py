"""Every application against a scripted call context (seed: "Applications de Dialplan")."""

from datetime import UTC

import pytest

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import catalog, procedures
from wpbxd.telephony.dialplan.apps.registry import applications
from wpbxd.telephony.dialplan.context import CallEnd, DialStatus
from wpbxd.telephony.dialplan.engine import MAX_JUMPS, Dialplan, Entry, Procedure
from wpbxd.telephony.dialplan.engine import AppCall as Compiled
from wpbxd.telephony.dialplan.patterns import compile_pattern

from .conftest import FakeCall, add_user, run_call


def plan_of(spec, **kw):
    """{procedure: {pattern: [(app, params), ...]}} -> a compiled Dialplan (no store)."""
    known = applications()
    procs = {}
    for name, entries in spec.items():
        procs[name] = Procedure(name, tuple(
            Entry(compile_pattern(p), tuple(Compiled(a, params, known[a](params) if a in known else None)
                                             for a, params in apps))
            for p, apps in entries.items()), kw.pop(f"{name}_includes", ()))
    return Dialplan(procs, **kw)


def test_set_called_replace_strip_prefix():
    plan = plan_of({"main": {"X.": [("set_called", {"strip": 2}), ("set_called", {"prefix": "9"}),
                                    ("dial", {"target": "${called}"})],
                             "55": [("set_called", {"number": "1${called}"}), ("dial", {"target": "${called}"})]}})
    call = FakeCall("1", "12345", "main")
    run_call(plan, call)
    assert call.rung() == [("9345",)]
    call = FakeCall("1", "55", "main")
    run_call(plan, call)
    assert call.rung() == [("155",)]


@pytest.mark.parametrize("params", [{}, {"strip": "x"}, {"strip": 99}, {"number": "12", "strip": 1},
                                    {"prefix": "ab"}, {"number": "${nope}"}])
def test_set_called_bad_params_are_refused(params):
    with pytest.raises(ValidationError):
        applications()["set_called"](params)


def test_set_caller_changes_number_and_name_before_dial():
    plan = plan_of({"main": {"X.": [("set_caller", {"number": "0199", "name": "Reception"}),
                                    ("dial", {"target": "${called}"})]}})
    call = FakeCall("0611", "100", "main")
    run_call(plan, call)
    assert (call.caller_number, call.caller_name) == ("0199", "Reception")
    assert call.seen_caller == ["0199"]


def test_goto_with_new_number_and_hangup_with_cause():
    plan = plan_of({"main": {"X.": [("goto", {"procedure": "other", "number": "77"})]},
                    "other": {"77": [("hangup", {"code": 486, "reason": "closed"})]}})
    call = FakeCall("1", "123", "main")
    outcome = run_call(plan, call)
    assert (outcome.end, outcome.sip_code) == (CallEnd.HANGUP, 486)
    assert call.hangups == [(486, "closed")]


def test_answer_then_wait_and_caller_hanging_up_during_wait_stops():
    plan = plan_of({"main": {"X.": [("answer", {}), ("wait", {"seconds": 2}), ("dial", {"target": "100"})]}})
    call = FakeCall("1", "123", "main", caller_hangs_up_in_wait=True)
    outcome = run_call(plan, call)
    assert call.answered and call.waits == [2.0] and call.rings == []
    assert outcome.end == CallEnd.COMPLETED


def test_loop_at_run_time_is_cut_after_max_jumps():
    # a loop the save-time check cannot see: the number changes each time round
    plan = plan_of({"a": {"X.": [("set_called", {"prefix": "1"}), ("goto", {"procedure": "b"})]},
                    "b": {"X.": [("goto", {"procedure": "a"})]}})
    call = FakeCall("1", "55", "a")
    outcome = run_call(plan, call)
    assert (outcome.end, outcome.sip_code) == (CallEnd.HANGUP, 482)
    assert call.hangups == [(482, "Loop Detected")]
    assert sum("jump to" in line for line in outcome.trace) == MAX_JUMPS + 1


def test_application_not_available_is_reported_clearly():
    plan = plan_of({"main": {"X.": [("mail_to_fax", {})]}})
    call = FakeCall("1", "123", "main")
    outcome = run_call(plan, call)
    assert outcome.sip_code == 503
    assert "application 'mail_to_fax' not available" in outcome.trace


def test_no_match_gives_404_and_default_only_when_nothing_else_matches():
    plan = plan_of({"main": {"1XX": [("dial", {"target": "${called}"})],
                             "default": [("hangup", {"code": 404})]},
                    "users": {"2XX": [("dial", {"target": "${called}"})]}})
    call = FakeCall("1", "150", "main", answers={"150": DialStatus.ANSWERED})
    assert run_call(plan, call).end == CallEnd.COMPLETED
    call = FakeCall("1", "999", "main")
    assert run_call(plan, call).sip_code == 404 and call.hangups == [(404, "Not Found")]
    call = FakeCall("1", "999", "users")
    outcome = run_call(plan, call)
    assert (outcome.end, outcome.sip_code) == (CallEnd.NO_MATCH, 404)


def test_time_check_open_and_closed(store):
    catalog.set_time_range(store, None, "office", weekly="mon-fri 09:00-17:00")
    for name in ("closed", "open"):
        procedures.add_procedure(store, None, name)
        procedures.add_entry(store, None, name, "X!", [{"app": "hangup", "params": {"code": 480, "reason": name}}])
    procedures.add_entry(store, None, "main", "1", [
        {"app": "time_check", "params": {"range": "office", "procedure": "closed"}},
        {"app": "time_check", "params": {"range": "office", "procedure": "open", "when": "open"}}])
    plan = Dialplan.load(store)
    from datetime import datetime
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
    sunday_noon = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
    monday_17 = datetime(2026, 11, 30, 17, 0, tzinfo=UTC).timestamp()
    for now, expected in ((monday_noon, "open"), (sunday_noon, "closed"), (monday_17, "closed")):
        call = FakeCall("x", "1", "main", now=now)
        run_call(plan, call)
        assert call.hangups == [(480, expected)], now


def test_three_state_switch_routes_to_three_procedures(store):
    catalog.add_switch(store, None, "night", states=3)
    for name in ("p_on", "p_off", "p_extra"):
        procedures.add_procedure(store, None, name)
        procedures.add_entry(store, None, name, "X!", [{"app": "hangup", "params": {"code": 480, "reason": name}}])
    procedures.add_entry(store, None, "main", "1", [
        {"app": "switch_check", "params": {"switch": "night", "on": "p_on", "off": "p_off", "extra": "p_extra"}}])
    for state in ("on", "off", "extra"):
        catalog.set_switch(store, None, "night", state)
        call = FakeCall("x", "1", "main")
        run_call(Dialplan.load(store), call)
        assert call.hangups == [(480, f"p_{state}")]
    with pytest.raises(ValidationError):
        catalog.add_switch(store, None, "two", states=2, state="extra")


def test_two_state_switch_off_continues(store):
    catalog.add_switch(store, None, "vm")
    procedures.add_procedure(store, None, "vmproc")
    procedures.add_entry(store, None, "main", "1", [
        {"app": "switch_check", "params": {"switch": "vm", "on": "vmproc"}}, {"app": "dial", "params": {"target": "100"}}])
    call = FakeCall("x", "1", "main")
    outcome = run_call(Dialplan.load(store), call)
    assert call.rung() == [("100",)] and "switch vm is off: continue" in outcome.trace


def test_mobility_lookup_without_match_continues(store):
    add_user(store, "100", mobility="0611")
    procedures.add_entry(store, None, "main", "1", [{"app": "mobility_lookup", "params": {}},
                                                    {"app": "dial", "params": {"target": "100"}}])
    call = FakeCall("0622", "1", "main")
    run_call(Dialplan.load(store), call)
    assert call.rung() == [("100",)] and call.caller_number == "0622"
    with pytest.raises(ValidationError, match="not available yet"):
        applications()["mobility_lookup"]({"options": "d"})


def test_dial_several_targets_and_timeout():
    plan = plan_of({"main": {"1": [("dial", {"target": "100&101", "timeout": 7}), ("hangup", {"code": 480})]}})
    call = FakeCall("x", "1", "main")
    outcome = run_call(plan, call)
    assert call.rung() == [("100", "101")]
    assert call.hangups == [(480, "Temporarily Unavailable")] and outcome.end == CallEnd.HANGUP


def test_unanswered_dial_gives_its_status_to_the_caller():
    plan = plan_of({"main": {"1": [("dial", {"target": "100"})]}})
    call = FakeCall("x", "1", "main", answers={"100": DialStatus.BUSY})
    outcome = run_call(plan, call)
    assert (outcome.end, outcome.sip_code) == (CallEnd.EXHAUSTED, 486)
