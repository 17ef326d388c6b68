"""Price lists (issue 8; seed: WMS -> Trunks, price lists): import rules and hand-computed costs."""

from datetime import datetime

import pytest

from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.telephony.trunks import pricelist

HEADER = "dialprefix,destination,rate,min_duration,billing_block,connect_charge,start_day,stop_day,start_time,stop_time\n"
# Weekday daytime rate and a night/weekend rate for France; a mobile prefix; Italy.
SAMPLE = HEADER + (
    "0033,France,0.06,0,60,0.10,1,5,28800,71999\n"         # Mon-Fri 08:00:00-19:59:59
    "0033,France night,0.03,0,60,0.10,1,7,72000,28799\n"   # every day 20:00 -> 07:59:59 (wraps)
    "0033,France weekend,0.02,0,60,0,6,7,28800,71999\n"    # Sat-Sun daytime
    "00336,France mobile,0.20,3,30,0.05,1,7,0,86399\n"      # any time
    "0039,Italy,0.12,0,1,0,1,7,0,86399\n"
)
MONDAY_10 = datetime(2026, 11, 23, 10, 0, 0)       # a Monday
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, 0)
TUESDAY_2330 = datetime(2026, 11, 24, 23, 30, 0)


@pytest.fixture
def plist():
    return pricelist.PriceList("p", pricelist.parse_csv(SAMPLE))


def test_longest_prefix_wins(plist):
    # 0033 6...: the mobile row (00336) beats 0033. 45 s, block 30 -> 60 s billed:
    # 0.05 + 0.20 * 60/60 = 0.25
    cost, rate = plist.cost_at("0033612345678", MONDAY_10, 45)
    assert rate.destination == "France mobile"
    assert cost == pytest.approx(0.25)


def test_billing_blocks_round_up_and_connect_charge_is_added(plist):
    # France daytime: 61 s in 60 s blocks -> 120 s: 0.10 + 0.06 * 2 = 0.22
    cost, rate = plist.cost_at("0033123456789", MONDAY_10, 61)
    assert rate.destination == "France"
    assert cost == pytest.approx(0.22)
    # exactly one block: 0.10 + 0.06 = 0.16
    assert plist.cost_at("0033123456789", MONDAY_10, 60)[0] == pytest.approx(0.16)


def test_minimum_duration_is_not_billed(plist):
    # the mobile row bills nothing under 3 s (not even the connect charge)
    assert plist.cost_at("0033612345678", MONDAY_10, 2)[0] == 0.0
    # 3 s is billed: one 30 s block = 0.05 + 0.20 * 0.5 = 0.15
    assert plist.cost_at("0033612345678", MONDAY_10, 3)[0] == pytest.approx(0.15)


def test_per_second_billing(plist):
    # Italy: block 1 s, 0.12/min, 95 s -> 0.12 * 95 / 60 = 0.19
    assert plist.cost_at("0039061234", MONDAY_10, 95)[0] == pytest.approx(0.19)


def test_day_and_time_windows_pick_the_rate_in_force_at_the_start(plist):
    # Saturday 10:00: weekend row, no connect charge: 125 s -> 180 s -> 0.02 * 3 = 0.06
    cost, rate = plist.cost_at("0033123456789", SATURDAY_10, 125)
    assert rate.destination == "France weekend"
    assert cost == pytest.approx(0.06)
    # Tuesday 23:30: the night window wraps midnight: 0.10 + 0.03 * 1 = 0.13
    cost, rate = plist.cost_at("0033123456789", TUESDAY_2330, 10)
    assert rate.destination == "France night"
    assert cost == pytest.approx(0.13)
    # window bounds are inclusive: 19:59:59 on a Friday is still daytime
    assert plist.cost_at("0033123456789", datetime(2026, 11, 27, 19, 59, 59), 60)[1].destination == "France"
    assert plist.cost_at("0033123456789", datetime(2026, 11, 27, 20, 0, 0), 60)[1].destination == "France night"


def test_unanswered_or_unknown_destination_costs_nothing(plist):
    assert plist.cost_at("0033123456789", MONDAY_10, 0)[0] == 0.0
    assert plist.cost_at("0044123", MONDAY_10, 100) == (0.0, None)


def test_headerless_semicolon_file():
    rates = pricelist.parse_csv("0033;France;0.06;0;60;0.10;1;5;28800;71999\n")
    assert rates[0].dialprefix == "0033" and rates[0].stop_time == 71999


@pytest.mark.parametrize("line, reason", [
    ("0033,France,abc,0,60,0.10,1,5,0,100", "line 2: rate 'abc' is not a number"),
    ("0033,France,0.06,0,60,0.10,0,5,0,100", "line 2: start_day '0' must be between 1 and 7"),
    ("0033,France,0.06,0,60,0.10,1,5,0,90000", "line 2: stop_time '90000' must be between 0 and 86400"),
    ("00x3,France,0.06,0,60,0.10,1,5,0,100", "line 2: dialprefix '00x3'"),
    ("0033,France,0.06,0,60", "line 2: 5 columns, expected 10"),
    ("0033,France,0.06,1.5,60,0.10,1,5,0,100", "line 2: min_duration '1.5' is not a whole number"),
])
def test_malformed_line_is_refused_with_line_and_reason(line, reason):
    with pytest.raises(ValidationError) as err:
        pricelist.parse_csv(HEADER + line + "\n")
    assert reason in str(err.value)


def test_refused_import_keeps_the_previous_list(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.migrate()
    pricelist.import_list(store, None, "provider", SAMPLE)
    with pytest.raises(ValidationError, match="line 3"):
        pricelist.import_list(store, None, "provider", HEADER + "0044,UK,0.1,0,60,0,1,7,0,86399\n0045,DK,x,0,1,0,1,7,0,1\n")
    kept = pricelist.load(store, "provider")
    assert [r.dialprefix for r in kept.rates] == ["0033", "0033", "0033", "00336", "0039"]
    store.close()
