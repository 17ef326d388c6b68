"""Users in the store (seed: "Ajouter / Importer des utilisateurs"): validation, atomicity, CSV."""

import pytest

from wpbxd.bus import EventBus
from wpbxd.config import users
from wpbxd.config.defaults import apply_factory_defaults
from wpbxd.config.store import Store
from wpbxd.errors import Conflict, NotFound, ValidationError
from wpbxd.events import ConfigChanged

GOOD = "G00d!pass"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "wpbx.db")
    s.migrate()
    apply_factory_defaults(s)
    yield s
    s.close()


def test_factory_defaults_have_super_admin_that_must_change_password(store):
    admin = users.get_user(store, "admin")
    assert admin.is_super_admin and admin.must_change_password
    assert users.check_web_password(store, "admin", "wildix") is not None
    procs = {r["name"] for r in store.all("SELECT name FROM procedures")}
    assert procs == {"main", "users", "pbxinternal", "kite"}
    inc = store.all("SELECT procedure, included FROM procedure_includes")
    assert [(r[0], r[1]) for r in inc] == [("users", "pbxinternal")]


def test_add_user_publishes_config_changed_and_hashes_web_password(store):
    bus = EventBus()
    seen = []
    bus.subscribe(ConfigChanged, seen.append)
    user = users.add_user(store, bus, {"extension": "101", "name": "Alice", "email": "a@x.org"},
                          sip_password=GOOD, web_password="W3b!secret")
    assert seen and seen[0].section == "users"
    assert user.sip_password == GOOD
    assert "W3b!secret" not in user.web_password_hash
    assert users.check_web_password(store, "101", "W3b!secret") == user
    assert users.check_web_password(store, "101", "wrong") is None


def test_duplicate_extension_and_email_are_refused_and_nothing_changes(store):
    users.add_user(store, None, {"extension": "101", "name": "Alice", "email": "a@x.org"})
    before = store.all("SELECT * FROM users")
    with pytest.raises(Conflict, match="extension"):
        users.add_user(store, None, {"extension": "101", "name": "Other"})
    with pytest.raises(Conflict, match="email"):
        users.add_user(store, None, {"extension": "102", "name": "Bob", "email": "A@x.org"})
    assert [tuple(r) for r in store.all("SELECT * FROM users")] == [tuple(r) for r in before]


def test_same_name_is_allowed(store):
    users.add_user(store, None, {"extension": "101", "name": "Sam"})
    users.add_user(store, None, {"extension": "102", "name": "Sam"})
    assert len(users.list_users(store, "Sam")) == 2


@pytest.mark.parametrize(
    "values, field",
    [
        ({"extension": "10a", "name": "X"}, "extension"),
        ({"extension": "101", "name": ""}, "name"),
        ({"extension": "101", "name": "X", "email": "nope"}, "email"),
        ({"extension": "101", "name": "X", "type": "robot"}, "type"),
        ({"extension": "101", "name": "X", "dialplan": "nowhere"}, "dialplan"),
        ({"extension": "101", "name": "X", "acl_group": "vip"}, "acl_group"),
    ],
)
def test_invalid_fields_name_the_field(store, values, field):
    with pytest.raises(ValidationError) as err:
        users.add_user(store, None, values)
    assert err.value.field == field


def test_weak_sip_password_refused_and_user_not_created(store):
    with pytest.raises(ValidationError, match="special"):
        users.add_user(store, None, {"extension": "101", "name": "A"}, sip_password="Abcdefg1")
    with pytest.raises(NotFound):
        users.get_user(store, "101")


def test_super_admin_cannot_be_deleted_or_demoted(store):
    with pytest.raises(ValidationError):
        users.delete_user(store, None, "admin")
    with pytest.raises(ValidationError):
        users.update_user(store, None, "admin", {"type": "user"})


def test_csv_import_is_all_or_nothing_and_names_the_bad_line(store):
    bad = ("name,extension,email,sip_password\n"
           "Alice,101,a@x.org,G00d!pass\n"
           "Bob,10x,b@x.org,G00d!pass\n")
    with pytest.raises(ValidationError, match="line 3: extension"):
        users.import_csv(store, None, bad)
    assert users.list_users(store, "Alice") == []
    dup = "name,extension\nA,201\nB,201\n"
    with pytest.raises(ValidationError, match="line 3: extension '201' repeats line 2"):
        users.import_csv(store, None, dup)
    good = "name,extension,email\nAlice,101,a@x.org\nBob,102,b@x.org\n"
    added = users.import_csv(store, None, good)
    assert [u.extension for u in added] == ["101", "102"]


@pytest.mark.parametrize("text", ["", "name;extension\nA;1\n", "name,extension\n\"A,1\n", "\x00\x01garbage"])
def test_corrupt_csv_is_refused_cleanly(store, text):
    with pytest.raises(ValidationError):
        users.import_csv(store, None, text)
    assert len(users.list_users(store)) == 1  # only the admin


def test_csv_export_round_trips(store):
    users.add_user(store, None, {"extension": "101", "name": "Alice, Jr.", "department": "R&D"})
    text = users.export_csv(store)
    assert '"Alice, Jr."' in text
