"""Sans-IO pieces of the web layer: login throttle, session idle expiry, access rules,
SVG pictures and dialplan parameter parsing (no sockets, time passed in)."""

import tempfile
from pathlib import Path

import pytest

from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.web import access, sessions, svg, tokens
from wpbxd.web.dialplan_pages import parse_params
from wpbxd.web.throttle import LoginThrottle


@pytest.fixture
def store():
    with tempfile.TemporaryDirectory() as tmp:
        s = Store(Path(tmp) / "wpbx.db")
        s.migrate()
        apply_factory_defaults(s)
        yield s
        s.close()


def test_throttle_blocks_an_address_after_max_failures_until_the_lockout_passes():
    t = LoginThrottle(max_failures=3, lockout=300)
    for i in range(3):
        assert t.retry_after("192.0.2.1", 1000 + i) == 0
        t.failure("192.0.2.1", 1000 + i)
    assert t.retry_after("192.0.2.1", 1003) == pytest.approx(299)
    assert t.retry_after("192.0.2.2", 1003) == 0  # per address
    assert t.retry_after("192.0.2.1", 1302.5) == 0  # lockout over
    t.failure("192.0.2.2", 1000)
    t.success("192.0.2.2")
    assert t._recent("192.0.2.2", 1001) == []


def test_session_ends_after_idle_time_and_its_token_is_stored_hashed(store):
    admin = users.get_user(store, "admin")
    token, sess = sessions.create(store, admin.id, now=1000.0)
    assert store.one("SELECT 1 FROM web_sessions WHERE token_hash = ?", (token,)) is None
    assert sessions.lookup(store, token, now=1500.0, idle=600) is not None  # activity restarts the clock
    assert sessions.lookup(store, token, now=2050.0, idle=600) is not None
    assert sessions.lookup(store, token, now=2651.0, idle=600) is None
    assert sessions.lookup(store, token, now=2652.0, idle=600) is None  # gone for good
    assert not sessions.csrf_ok(sess, "") and not sessions.csrf_ok(sess, "x")
    assert sessions.csrf_ok(sess, sess.csrf)


def test_sessions_and_tokens_die_with_their_user(store):
    user = users.add_user(store, None, {"type": "admin", "name": "Temp", "login": "temp"})
    token, _ = sessions.create(store, user.id, now=1.0)
    api = tokens.create(store, user.id, "ci", now=1.0)
    assert tokens.authenticate(store, api, now=2.0) == user.id
    users.delete_user(store, None, user.id)
    assert sessions.lookup(store, token, now=2.0, idle=600) is None
    assert tokens.authenticate(store, api, now=2.0) is None
    with pytest.raises(ValidationError):
        tokens.create(store, 1, " ", now=1.0)


def test_only_the_super_admin_manages_other_admins(store):
    admin = users.get_user(store, "admin")
    deputy = users.add_user(store, None, {"type": "admin", "name": "Deputy", "login": "deputy"})
    plain = users.add_user(store, None, {"name": "Plain", "extension": "100"})
    assert access.may_manage(admin, deputy) and access.may_manage(admin, plain)
    assert not access.may_manage(deputy, admin)
    assert access.may_manage(deputy, deputy) and access.may_manage(deputy, plain)
    with pytest.raises(access.Forbidden):
        access.check_type(deputy, "admin", plain)
    access.check_type(deputy, "user", plain)
    assert not access.may_sign_in(plain) and access.may_sign_in(deputy)


def test_svg_gauge_and_bars_escape_labels_and_clamp_ratios():
    picture = svg.gauge("<CPU>", 1.7, "170%")
    assert "&lt;CPU&gt;" in picture and "<CPU>" not in picture and "#c62828" in picture
    assert 'class="fill"' not in svg.gauge("Idle", 0, "0%")
    chart = svg.bars("calls", ["00", "01"], [0, 4])
    assert chart.count("<rect") == 2 and "01: 4</title>" in chart


def test_dialplan_parameters_from_lines_or_json():
    assert parse_params("target=${called}\ntimeout=30") == {"target": "${called}", "timeout": 30}
    assert parse_params('{"target": "201"}') == {"target": "201"}
    assert parse_params("") == {}
    with pytest.raises(ValidationError) as err:
        parse_params("target")
    assert err.value.field == "params" and "line 1" in err.value.message
    with pytest.raises(ValidationError):
        parse_params("{not json")
