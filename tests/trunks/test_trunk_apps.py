"""Trunk applications against a scripted call context (seed: "Faisceau", "Appel d'un PBX distant").

The context scripts each trunk's answer; the real dialplan engine runs the
applications. These check the group's policy (order, digits, limits, which
failures move on, the final cause); the SIP side is tested with real peers.
"""

import asyncio
from dataclasses import dataclass, field

from tests.dialplan.test_applications import plan_of
from wpbxd.telephony.dialplan import engine
from wpbxd.telephony.dialplan.context import CallEnd, DialResult, DialStatus, ExtensionState
from wpbxd.telephony.trunks.model import GroupMember

ANSWERED = DialResult(DialStatus.ANSWERED, 200, "OK")


@dataclass
class TrunkCall:
    caller_number: str
    called: str
    procedure: str
    answers: dict[str, DialResult]
    groups: dict[str, tuple[GroupMember, ...]] = field(default_factory=dict)
    caller_name: str = ""
    call_id: str = "t"
    answered: bool = False
    attempts: list[tuple] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    hung_up: tuple | None = None

    async def dial_trunk(self, trunk, number, timeout, limit=0, procedure=None, quiet_early=False):
        self.attempts.append((trunk, number, timeout, limit, procedure, quiet_early))
        return self.answers.get(trunk, DialResult(DialStatus.UNAVAILABLE, 503, "down"))

    def trunk_group(self, name):
        return self.groups.get(name)

    async def dial(self, targets, timeout):
        return DialResult(DialStatus.NOT_FOUND, 404, "Not Found")

    async def ring(self, targets, timeout):
        return DialResult(DialStatus.NOT_FOUND, 404, "Not Found")

    def extension_state(self, extension):
        return ExtensionState(True, 0)

    async def wait(self, seconds):
        return True

    async def answer(self):
        self.answered = True

    async def hangup(self, sip_code, reason=""):
        self.hung_up = (sip_code, reason)

    def publish(self, event):
        pass

    def trace(self, text):
        self.lines.append(text)


GROUP = {"gsm-calls": (GroupMember("gsm", strip=1, max_calls=2, delay=5),
                       GroupMember("bri", strip=1, prepend="0033"), GroupMember("sip", strip=0))}


def _run(call, plan):
    return asyncio.run(engine.run(plan, call))


def test_group_moves_on_after_congestion_and_uses_each_members_digits():
    plan = plan_of({"users": {"0[67].": [("trunk_group", {"group": "gsm-calls"})]}})
    call = TrunkCall("100", "0612345678", "users", {"gsm": DialResult(DialStatus.FAILED, 503, "Service Unavailable"),
                                                    "bri": ANSWERED}, GROUP)
    outcome = _run(call, plan)
    assert outcome.end == CallEnd.COMPLETED
    assert [(a[0], a[1], a[3]) for a in call.attempts] == [("gsm", "612345678", 2), ("bri", "0033612345678", 0)]
    assert call.attempts[0][2] == 5                       # the member's delay bounds its attempt
    assert all(a[5] for a in call.attempts)               # one continuous ringback: no early media


def test_group_keeps_the_most_meaningful_failure():
    plan = plan_of({"users": {"0[67].": [("trunk_group", {"group": "gsm-calls"})]}})
    call = TrunkCall("100", "0612345678", "users", {
        "gsm": DialResult(DialStatus.UNAVAILABLE, 503, "trunk gsm at its limit of 2 simultaneous calls"),
        "bri": DialResult(DialStatus.BUSY, 486, "Busy Here"),
        "sip": DialResult(DialStatus.NO_ANSWER, 480, "No Answer")}, GROUP)
    outcome = _run(call, plan)
    assert len(call.attempts) == 3
    assert (outcome.end, outcome.sip_code) == (CallEnd.EXHAUSTED, 486)


def test_a_refused_number_ends_the_hunt():
    plan = plan_of({"users": {"0[67].": [("trunk_group", {"group": "gsm-calls"})]}})
    call = TrunkCall("100", "0612345678", "users", {"gsm": DialResult(DialStatus.NOT_FOUND, 404, "Not Found"),
                                                    "bri": ANSWERED}, GROUP)
    outcome = _run(call, plan)
    assert [a[0] for a in call.attempts] == ["gsm"]
    assert outcome.sip_code == 404


def test_unknown_group_falls_through_to_the_next_application():
    plan = plan_of({"users": {"0X.": [("trunk_group", {"group": "nosuch"}), ("dial_trunk", {"trunk": "bri"})]}})
    call = TrunkCall("100", "0412345678", "users", {"bri": ANSWERED})
    assert _run(call, plan).end == CallEnd.COMPLETED
    assert call.attempts[0][:2] == ("bri", "0412345678")
    assert any("does not exist" in line for line in call.lines)


def test_seed_users_example_routes_to_the_right_trunks_with_the_right_digits():
    """Seed, "Exemple de configuration de la procédure users": +XXXX., 00039., 0X., 0[67]."""
    plan = plan_of({
        "users": {
            "+XXXX.": [("set_called", {"prefix": "0"}), ("dial_trunk", {"trunk": "bri-1"})],
            "00039.": [("remote_pbx", {"pbx": "italy.example", "procedure": "users"})],
            "0X.": [("set_called", {"strip": 1}), ("dial_trunk", {"trunk": "bri-1"})],
            "0[67].": [("set_called", {"strip": 1}), ("trunk_group", {"group": "gsm-calls"})],
        }})
    groups = {"gsm-calls": (GroupMember("gsm"), GroupMember("bri-1"))}
    cases = {
        "0412345678": [("bri-1", "412345678", None)],
        "0612345678": [("gsm", "612345678", None)],
        "000391234567": [("italy.example", "000391234567", "users")],
        "+390612345": [("bri-1", "0+390612345", None)],  # the outside-line '0' added (as tests/dialplan do)
    }
    for called, expected in cases.items():
        call = TrunkCall("100", called, "users", {"bri-1": ANSWERED, "gsm": ANSWERED, "italy.example": ANSWERED},
                         groups)
        assert _run(call, plan).end == CallEnd.COMPLETED, (called, call.lines)
        assert [(a[0], a[1], a[4]) for a in call.attempts] == expected, called


def test_acl_is_checked_before_any_trunk_is_seized(tmp_path):
    """Issue 8: the caller's ACL class check applies before a trunk group seizes a trunk."""
    from wpbxd.config import users
    from wpbxd.config.defaults import apply_factory_defaults
    from wpbxd.config.store import Store
    from wpbxd.telephony.dialplan import catalog, procedures
    from wpbxd.telephony.dialplan.engine import Dialplan

    store = Store(tmp_path / "db.sqlite")
    store.migrate()
    apply_factory_defaults(store)
    users.add_user(store, None, {"extension": "100", "name": "Intern"})
    catalog.set_acl(store, None, "default", ["internal", "national"])        # no mobiles
    procedures.add_entry(store, None, "users", "0[67].", [{"app": "trunk_group", "params": {"group": "gsm-calls"}}])
    plan = Dialplan.load(store)
    call = TrunkCall("100", "0612345678", "users", {"gsm": ANSWERED}, GROUP)
    outcome = _run(call, plan)
    assert call.attempts == []
    assert call.hung_up == (403, "Forbidden") and outcome.sip_code == 403
    assert any("class mobile" in line for line in call.lines)
    store.close()
