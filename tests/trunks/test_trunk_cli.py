"""``wpbxctl trunk|pricelist|cdr backend`` against a real wpbxd (issue 8; seed: "Configuration du Trunk")."""

import json

HEADER = "dialprefix,destination,rate,min_duration,billing_block,connect_charge,start_day,stop_day,start_time,stop_time\n"


def test_trunk_add_list_show_set_del(wpbxd):
    out = wpbxd.ctl("trunk", "add", "--name", "provider", "--host", "sip.example.net:5070", "--login", "acme",
                    "--password", "s3cret", "--register", "--country-code", "33", "--keepalive", "30", "--json")
    trunk = json.loads(out.stdout)
    assert trunk["host"] == "sip.example.net:5070" and trunk["register"] is True
    assert trunk["procedure"] == "main" and trunk["password"] == "********"
    listed = json.loads(wpbxd.ctl("trunk", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["provider"]
    wpbxd.ctl("trunk", "set", "provider", "--title", "Main provider", "--no-register")
    shown = json.loads(wpbxd.ctl("trunk", "show", "provider", "--json").stdout)
    assert shown["title"] == "Main provider" and shown["register"] is False
    wpbxd.ctl("trunk", "del", "provider")
    assert json.loads(wpbxd.ctl("trunk", "list", "--json").stdout) == []


def test_bad_trunk_values_are_refused_and_nothing_is_written(wpbxd):
    bad = [
        (["--host", "dynamic", "--login", "peer", "--password", "x", "--register"], "cannot register itself"),
        (["--host", "bad host!", "--login", "a"], "not an IP address or host name"),
        (["--host", "10.0.0.1:99999", "--login", "a"], "port '99999'"),
        (["--host", "10.0.0.1", "--login", "a", "--procedure", "nosuch"], "no procedure 'nosuch'"),
        (["--host", "10.0.0.1"], "login: is required"),
        (["--host", "dynamic", "--login", "peer"], "needs a password"),
    ]
    for args, message in bad:
        result = wpbxd.ctl("trunk", "add", "--name", "t1", *args, check=False)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
    assert json.loads(wpbxd.ctl("trunk", "list", "--json").stdout) == []


def test_trunk_group_members_keep_their_order_and_digit_rules(wpbxd):
    for name in ("gsm", "bri"):
        wpbxd.ctl("trunk", "add", "--name", name, "--host", "192.0.2.10", "--login", name)
    wpbxd.ctl("trunk", "group", "set", "gsm-calls", "--member", "gsm,strip=1,max=2,delay=3",
              "--member", "bri,strip=1,add=0033")
    groups = json.loads(wpbxd.ctl("trunk", "group", "list", "--json").stdout)
    assert groups == [{"name": "gsm-calls", "members": [
        {"trunk": "gsm", "strip": 1, "prepend": "", "max_calls": 2, "delay": 3.0},
        {"trunk": "bri", "strip": 1, "prepend": "0033", "max_calls": 0, "delay": 0.0}]}]
    bad = wpbxd.ctl("trunk", "group", "set", "g2", "--member", "nosuch", check=False)
    assert bad.returncode != 0 and "no trunk 'nosuch'" in bad.stderr


def test_pricelist_import_refuses_a_bad_file_and_keeps_the_old_one(wpbxd, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "0033,France,0.06,0,60,0.10,1,7,0,86399\n")
    assert "1 rates imported" in wpbxd.ctl("pricelist", "import", "provider", str(good)).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "0044,UK,0.1,0,60,0,1,7,0,86399\n0045,DK,0.1,0,60,0,9,7,0,86399\n")
    result = wpbxd.ctl("pricelist", "import", "provider", str(bad), check=False)
    assert result.returncode != 0 and "line 3: start_day '9' must be between 1 and 7" in result.stderr
    rates = json.loads(wpbxd.ctl("pricelist", "show", "provider", "--json").stdout)
    assert [r["dialprefix"] for r in rates] == ["0033"]
    wpbxd.ctl("trunk", "add", "--name", "p", "--host", "192.0.2.1", "--login", "p", "--price-list", "provider")
    cost = wpbxd.call("pricelist.cost", {"name": "provider", "number": "0033123", "start": "2026-11-23T10:00:00",
                                         "billsec": 61})
    assert cost["cost"] == 0.22                  # 0.10 + 2 blocks of 60 s at 0.06/min


def test_cdr_backend_settings(wpbxd, tmp_path):
    rows = json.loads(wpbxd.ctl("cdr", "backend", "list", "--json").stdout)
    assert {r["name"]: (r["enabled"], r["stats"]) for r in rows} == {
        "sqlite": (True, True), "csv": (False, False), "mysql": (False, False)}
    bad = wpbxd.ctl("cdr", "backend", "set", "mysql", "--enable", check=False)
    assert bad.returncode != 0 and "database: is required" in bad.stderr
    bad = wpbxd.ctl("cdr", "backend", "select", "csv", check=False)
    assert bad.returncode != 0 and "enable the csv backend" in bad.stderr
    wpbxd.ctl("cdr", "backend", "set", "csv", "--enable", "--option", f"path={tmp_path}/cdr.csv")
    wpbxd.ctl("cdr", "backend", "select", "csv")
    stats = json.loads(wpbxd.ctl("cdr", "backend", "stats").stdout)
    assert stats["backend"] == "csv" and stats["calls"] == 0


def test_trace_via_trunk_and_through_a_trunk_group(wpbxd):
    """``wpbxctl dialplan trace --via-trunk``: an incoming call runs the trunk's procedure."""
    wpbxd.ctl("user", "add", "--name", "Reception", "--extension", "100")
    wpbxd.ctl("trunk", "add", "--name", "provider", "--host", "192.0.2.10", "--login", "acme")
    wpbxd.ctl("trunk", "add", "--name", "gsm", "--host", "192.0.2.11", "--login", "gsm")
    wpbxd.ctl("trunk", "group", "set", "gsm-calls", "--member", "gsm,strip=1", "--member", "provider,strip=1")
    wpbxd.ctl("dialplan", "entry", "add", "main", "0123456789")
    wpbxd.ctl("dialplan", "app", "add", "main", "0123456789", "dial", "target=100")
    wpbxd.ctl("dialplan", "entry", "add", "users", "0[67].")
    wpbxd.ctl("dialplan", "app", "add", "users", "0[67].", "trunk_group", "group=gsm-calls")
    lines = wpbxd.ctl("dialplan", "trace", "--from", "0145678900", "--to", "0123456789",
                      "--via-trunk", "provider").stdout
    assert "in on trunk provider to 0123456789, starting in procedure main" in lines
    assert "ring 100" in lines
    lines = wpbxd.ctl("dialplan", "trace", "--from", "100", "--to", "0612345678", "--assume", "busy").stdout
    assert "trunk gsm: dial 612345678" in lines and "trunk provider: dial 612345678" in lines
    assert "caller gets 486" in lines
    bad = wpbxd.ctl("dialplan", "trace", "--from", "1", "--to", "2", "--via-trunk", "nosuch", check=False)
    assert bad.returncode != 0 and "no trunk 'nosuch'" in bad.stderr
