"""Typed settings: a value the daemon could not use is refused at save time, and the
previous value stays (a bad digest algorithm once stopped the daemon at its next start)."""

import pytest

from wpbxd.config import settings
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "wpbx.db")
    s.migrate()
    yield s
    s.close()


@pytest.mark.parametrize(
    "key, bad",
    [
        ("sip.digest_algorithms", "SHA-512"),
        ("sip.digest_algorithms", ""),
        ("sip.digest_algorithms", "MD5,MD5"),
        ("pbx.timezone", "Mars/Olympus"),
        ("pbx.timezone", ""),
        ("dialplan.international_prefix", "0x"),
        ("dialplan.country_code", ""),
        ("dialplan.mobile_prefixes", "6,seven"),
        ("sip.ban.max_failures", "0"),
        ("sip.ban.max_failures", "ten"),
    ],
)
def test_unusable_values_are_refused_and_the_old_value_stays(store, key, bad):
    before = settings.get(store, key)
    with pytest.raises(ValidationError) as err:
        settings.set_value(store, None, key, bad)
    assert err.value.field == key
    assert settings.get(store, key) == before


def test_good_values_are_stored_normalised(store):
    assert settings.set_value(store, None, "sip.digest_algorithms", " sha-256 , md5") == "SHA-256,MD5"
    assert settings.set_value(store, None, "pbx.timezone", "Europe/Paris") == "Europe/Paris"
    assert settings.set_value(store, None, "dialplan.national_prefix", "") == ""
    assert settings.set_value(store, None, "dialplan.emergency_numbers", "112, 911") == "112,911"
    assert settings.get(store, "sip.digest_algorithms") == "SHA-256,MD5"


def test_unknown_setting_is_named(store):
    with pytest.raises(NotFound, match="no.such"):
        settings.set_value(store, None, "no.such", 1)
