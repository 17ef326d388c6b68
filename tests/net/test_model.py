"""Desired network state: factory defaults (seed "Connexion"), scenarios, validation."""

import pytest

from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.net import model


def test_factory_defaults_are_the_seeds_table():
    state = model.validate(model.factory_state())
    assert [(p.name, p.mode, p.address) for p in state.ports] == [
        ("eth0", "dhcp", ""), ("eth1", "static", "10.135.0.1/24"),
        ("eth2", "disabled", ""), ("eth3", "disabled", "")]
    assert state.dhcp.enabled and state.dhcp.interface == "eth1"


def test_scenarios_are_presets_that_validate():
    base = model.factory_state()
    shared = model.validate(model.with_scenario(base, "shared"))
    assert list(shared.l3_interfaces()) == ["eth0"] and not shared.dhcp.enabled
    separate = model.validate(model.with_scenario(shared, "separate"))
    assert list(separate.l3_interfaces()) == ["eth0", "eth1"] and separate.dhcp.enabled
    shaper = model.validate(model.with_scenario(base, "shaper"))
    assert list(shaper.l3_interfaces()) == ["wbr0", "eth1"]
    assert shaper.l3_interfaces()["wbr0"].mode == "dhcp", "wbr0 takes over eth0's settings"


@pytest.mark.parametrize("patch, message", [
    ({"ports": {"eth2": {"mode": "static", "address": "10.135.0.5/16"}}}, "overlap"),
    ({"ports": {"eth1": {"gateway": "192.168.9.1"}}}, "outside eth1's subnet"),
    ({"ports": {"eth0": {"mode": "static", "address": "192.168.1.2/24", "gateway": "192.168.1.1"},
                "eth1": {"gateway": "10.135.0.254"}}}, "more than one default route"),
    ({"ports": {"eth1": {"gateway": "10.135.0.254"}}}, "more than one default route"),
    ({"dhcp": {"range_start": "10.136.0.10"}}, "outside the LAN subnet"),
    ({"dhcp": {"range_end": "10.135.0.255"}}, "outside the LAN subnet"),
    ({"dhcp": {"range_start": "10.135.0.1"}}, "own address"),
    ({"dhcp": {"range_start": "10.135.0.201"}}, "comes after"),
    ({"dhcp": {"gateway": "8.8.8.8"}}, "outside the LAN subnet"),
    ({"dhcp": {"interface": "eth0"}}, "static address"),
    ({"dhcp": {"dns": "1.1.1.1,2.2.2.2,3.3.3.3"}}, "2 at most"),
    ({"dhcp": {"vendor_options": {"Wildix": "zz"}}}, "hex"),
    ({"ports": {"eth1": {"address": "10.135.0.0/24"}}}, "network or broadcast"),
    ({"ports": {"eth1": {"address": "10.135.0.1"}}}, "prefix"),
    ({"ports": {"eth1": {"mode": "bogus"}}}, "mode must be"),
    ({"hostname": "bad name"}, "letters"),
    ({"scenario": "shaper", "shaper": {"enabled": True}, "ports": {"eth2": {"mode": "dhcp"}}}, "bridge"),
])
def test_invalid_states_are_refused_with_a_clear_message(patch, message):
    with pytest.raises(ValidationError) as err:
        model.validate(model.from_dict(patch))
    assert message in str(err.value)


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="unknown"):
        model.from_dict({"ports": {"eth1": {"adress": "1.2.3.4/24"}}})
    with pytest.raises(ValidationError, match="no port"):
        model.from_dict({"ports": {"eth9": {}}})


def test_store_round_trip_and_confirmed_falls_back_to_desired(tmp_path):
    store = Store(tmp_path / "db")
    store.migrate()
    assert model.load(store) == model.factory_state()
    state = model.from_dict({"dhcp": {"domain": "office.lan", "ntp": ["10.135.0.1"],
                                      "vendor_options": {"Wildix": "0102"}},
                             "shaper": {"upload_kbit": 800}})
    model.save(store, state)
    assert model.load(store) == state
    assert model.load(store, "confirmed") == state
    with pytest.raises(ValidationError):
        model.save(store, model.from_dict({"dhcp": {"range_start": "1.2.3.4"}}))
    assert model.load(store) == state, "a refused write leaves the previous state"
