"""The seed's worked examples ("Exemples concrets de Dialplan", "SDA et DISA",
"Appel d'un PBX distant"), built through the service functions and run through
the engine with a scripted call context."""

from datetime import datetime
from zoneinfo import ZoneInfo

from wpbxd.telephony.dialplan import catalog, procedures
from wpbxd.telephony.dialplan.context import CallEnd, DialStatus
from wpbxd.telephony.dialplan.engine import Dialplan

from .conftest import FakeCall, add_user, run_call

PARIS = ZoneInfo("Europe/Paris")


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def _main_example(store):
    """Seed: procedure "main" with three public numbers, a closed-hours time range
    "bureau_ferme" and a voicemail switch; voicemail steps become calls to user 150."""
    from wpbxd.config import settings
    settings.set_value(store, None, "pbx.timezone", "Europe/Paris")
    for ext in ("100", "101", "102", "150", "200"):
        add_user(store, ext)
    catalog.set_time_range(store, None, "bureau_ferme", weekly="mon-fri 08:30-12:30,14:00-18:00")
    catalog.add_exception(store, None, "bureau_ferme", "2026-12-25")
    catalog.add_switch(store, None, "Voicemail_switch")
    catalog.set_group(store, None, "assistance_tech", strategy="ringall", timeout=20, members=["101", "102"])
    for name in ("bureau_ferme", "messagerie_vocale", "ventes"):
        procedures.add_procedure(store, None, name)
    procedures.add_entry(store, None, "bureau_ferme", "default", [{"app": "dial", "params": {"target": "150"}}])
    procedures.add_entry(store, None, "messagerie_vocale", "default", [{"app": "dial", "params": {"target": "150"}}])
    procedures.add_entry(store, None, "ventes", "default", [{"app": "dial", "params": {"target": "200"}}])
    checks = [{"app": "time_check", "params": {"range": "bureau_ferme", "procedure": "bureau_ferme"}},
              {"app": "switch_check", "params": {"switch": "Voicemail_switch", "on": "messagerie_vocale"}}]
    procedures.add_entry(store, None, "main", "+33176747980", [
        {"app": "mobility_lookup", "params": {}}, *checks, {"app": "dial", "params": {"target": "100"}}])
    procedures.add_entry(store, None, "main", "+33176747983", [
        *checks, {"app": "call_group", "params": {"group": "assistance_tech", "timeout": 20}},
        {"app": "goto", "params": {"procedure": "messagerie_vocale"}}])
    procedures.add_entry(store, None, "main", "+33176747984", [
        *checks, {"app": "goto", "params": {"procedure": "ventes"}}])
    return Dialplan.load(store)


def test_main_example_routes_each_public_number_in_office_hours(store):
    plan = _main_example(store)
    monday_10 = at("2026-11-30 10:00")
    call = FakeCall("0478000000", "+33176747980", "main", now=monday_10, answers={"100": DialStatus.ANSWERED})
    assert run_call(plan, call).end == CallEnd.COMPLETED
    assert call.rung() == [("100",)]
    call = FakeCall("0478000000", "+33176747984", "main", now=monday_10, answers={"200": DialStatus.ANSWERED})
    assert run_call(plan, call).end == CallEnd.COMPLETED
    assert call.rung() == [("200",)]


def test_main_example_support_group_unanswered_for_20_s_goes_to_voicemail_procedure(store):
    plan = _main_example(store)
    call = FakeCall("0478000000", "+33176747983", "main", now=at("2026-11-30 10:00"),
                    answers={"150": DialStatus.ANSWERED})
    outcome = run_call(plan, call)
    assert outcome.end == CallEnd.COMPLETED
    assert call.rung() == [("101", "102"), ("150",)]
    assert [t.ring_time for t in call.rings[0]] == [15, 15]
    assert any("jump to messagerie_vocale" in line for line in outcome.trace)


def test_main_example_closed_hours_holiday_and_switch(store):
    plan = _main_example(store)
    saturday = FakeCall("0478000000", "+33176747980", "main", now=at("2026-11-28 10:00"),
                        answers={"150": DialStatus.ANSWERED})
    outcome = run_call(plan, saturday)
    assert saturday.rung() == [("150",)]
    assert any("time range bureau_ferme: closed (sat 10:00)" in line for line in outcome.trace)
    christmas = FakeCall("0478000000", "+33176747983", "main", now=at("2026-12-25 10:00"))
    outcome = run_call(plan, christmas)
    assert christmas.rung() == [("150",)]
    assert any("exception for 2026-12-25" in line for line in outcome.trace)
    catalog.set_switch(store, None, "Voicemail_switch", "on")
    plan = Dialplan.load(store, plan)
    call = FakeCall("0478000000", "+33176747984", "main", now=at("2026-11-30 10:00"))
    outcome = run_call(plan, call)
    assert call.rung() == [("150",)]
    assert any("switch Voicemail_switch is on -> messagerie_vocale" in line for line in outcome.trace)


def test_main_example_mobility_lookup_continues_as_the_user(store):
    plan = _main_example(store)
    add_user(store, "300", mobility="0611223344")
    procedures.add_entry(store, None, "users", "+33176747980", [{"app": "dial", "params": {"target": "102"}}])
    plan = Dialplan.load(store, plan)
    call = FakeCall("0611223344", "+33176747980", "main", now=at("2026-11-30 10:00"),
                    answers={"102": DialStatus.ANSWERED})
    run_call(plan, call)
    assert call.rung() == [("102",)]
    assert call.seen_caller == ["300"]


def _users_example(store):
    """Seed: procedure "users" with +XXXX., 00039., 0X. and 0[67]. (trunks are
    stand-in procedures dialing a number until trunks exist)."""
    for name in ("italy_pbx", "bri_1", "gsm_calls"):
        procedures.add_procedure(store, None, name)
        procedures.add_entry(store, None, name, "X!", [{"app": "dial", "params": {"target": "${called}"}}])
        procedures.add_entry(store, None, name, "+X!", [{"app": "dial", "params": {"target": "${called}"}}])
    procedures.add_entry(store, None, "users", "+XXXX.", [
        {"app": "set_called", "params": {"prefix": "0"}}, {"app": "goto", "params": {"procedure": "bri_1"}}])
    procedures.add_entry(store, None, "users", "00039.", [{"app": "goto", "params": {"procedure": "italy_pbx"}}])
    procedures.add_entry(store, None, "users", "0X.", [
        {"app": "set_called", "params": {"strip": 1}}, {"app": "goto", "params": {"procedure": "bri_1"}}])
    procedures.add_entry(store, None, "users", "0[67].", [
        {"app": "set_called", "params": {"strip": 1}}, {"app": "goto", "params": {"procedure": "gsm_calls"}}])
    catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
    add_user(store, "101")
    return Dialplan.load(store)


def test_users_example_routes_by_the_most_specific_pattern(store):
    plan = _users_example(store)
    cases = {
        "+3912345678": ("bri_1", "0+3912345678"),
        "000391234567": ("italy_pbx", "000391234567"),
        "0145678900": ("bri_1", "145678900"),
        "0612345678": ("gsm_calls", "612345678"),
        "0712345678": ("gsm_calls", "712345678"),
    }
    for dialled, (procedure, out) in cases.items():
        call = FakeCall("101", dialled, "users", answers={out: DialStatus.ANSWERED})
        outcome = run_call(plan, call)
        assert call.rung() == [(out,)], dialled
        assert any(f"jump to {procedure}" in line for line in outcome.trace), dialled


def test_users_example_extensions_still_reach_each_other_through_pbxinternal(store):
    plan = _users_example(store)
    add_user(store, "102")
    plan = Dialplan.load(store)
    call = FakeCall("101", "102", "users", answers={"102": DialStatus.ANSWERED})
    outcome = run_call(plan, call)
    assert call.rung() == [("102",)]
    assert "'102' matches 'X!' in pbxinternal (included by users)" in outcome.trace[0]


def test_sda_example_strips_8_digits(store):
    """Seed "SDA": 04611715111 -> 111, 04611715112 -> 112, 04611715122 -> 122."""
    for ext in ("111", "112", "122"):
        add_user(store, ext)
    procedures.add_procedure(store, None, "sda")
    procedures.add_entry(store, None, "sda", "1XX", [{"app": "dial", "params": {"target": "${called}"}}])
    procedures.add_entry(store, None, "main", "046117151XX", [
        {"app": "set_called", "params": {"strip": 8}}, {"app": "goto", "params": {"procedure": "sda"}}])
    plan = Dialplan.load(store)
    for called, ext in (("04611715111", "111"), ("04611715112", "112"), ("04611715122", "122")):
        call = FakeCall("0478000000", called, "main", answers={ext: DialStatus.ANSWERED})
        assert run_call(plan, call).end == CallEnd.COMPLETED
        assert call.rung() == [(ext,)]


def test_remote_pbx_example_strips_5_digits(store):
    """Seed "Appel d'un PBX distant": 000331234567890 becomes 1234567890."""
    procedures.add_procedure(store, None, "local_trunk")
    procedures.add_entry(store, None, "local_trunk", "X.", [{"app": "dial", "params": {"target": "${called}"}}])
    procedures.add_entry(store, None, "users", "00033.", [
        {"app": "set_called", "params": {"strip": 5}}, {"app": "goto", "params": {"procedure": "local_trunk"}}])
    catalog.set_acl(store, None, "default", ["internal", "national", "mobile", "international"])
    add_user(store, "101")
    plan = Dialplan.load(store)
    call = FakeCall("101", "000331234567890", "users", answers={"1234567890": DialStatus.ANSWERED})
    run_call(plan, call)
    assert call.rung() == [("1234567890",)]
