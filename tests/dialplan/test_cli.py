"""``wpbxctl dialplan …``, ``switch …`` and the trace, against a real wpbxd."""


def test_build_the_seed_main_example_and_trace_it(wpbxd):
    ctl = wpbxd.ctl
    ctl("user", "add", "--name", "Reception", "--extension", "100")
    ctl("user", "add", "--name", "Voicemail stand-in", "--extension", "150")
    wpbxd.call("settings.set", {"key": "pbx.timezone", "value": "Europe/Paris"})
    ctl("dialplan", "timerange", "set", "bureau_ferme", "--weekly", "mon-fri 08:30-12:30,14:00-18:00")
    ctl("dialplan", "timerange", "exception", "bureau_ferme", "2026-12-25")
    ctl("switch", "add", "messagerie")
    for name in ("bureau_ferme", "messagerie_vocale"):
        ctl("dialplan", "add", name)
        ctl("dialplan", "entry", "add", name, "default")
        ctl("dialplan", "app", "add", name, "default", "dial", "target=150")
    ctl("dialplan", "entry", "add", "main", "+33176747980")
    ctl("dialplan", "app", "add", "main", "+33176747980", "time_check", "range=bureau_ferme",
        "procedure=bureau_ferme")
    ctl("dialplan", "app", "add", "main", "+33176747980", "switch_check", "switch=messagerie",
        "on=messagerie_vocale")
    ctl("dialplan", "app", "add", "main", "+33176747980", "dial", "target=100", "timeout=20")
    shown = ctl("dialplan", "show", "main").stdout
    assert "+33176747980" in shown and "3. dial target=100 timeout=20.0" in shown

    open_hours = ctl("dialplan", "trace", "--from", "0478000000", "--to", "+33176747980",
                     "--at", "2026-12-01 10:00").stdout
    assert "time range bureau_ferme: open (tue 10:00)" in open_hours
    assert "switch messagerie is off: continue" in open_hours and "ring 100 for 20 s" in open_hours
    evening = ctl("dialplan", "trace", "--from", "0478000000", "--to", "+33176747980",
                  "--at", "2026-12-01 20:00").stdout
    assert "time range bureau_ferme: closed (tue 20:00)" in evening
    assert "jump to bureau_ferme" in evening and "ring 150" in evening
    ctl("switch", "set", "messagerie", "on")
    switched = ctl("dialplan", "trace", "--from", "0478000000", "--to", "+33176747980",
                   "--at", "2026-12-01 10:00").stdout
    assert "switch messagerie is on -> messagerie_vocale" in switched


def test_bad_data_is_refused_with_a_clear_message_and_exit_code(wpbxd):
    ctl = wpbxd.ctl
    ctl("dialplan", "entry", "add", "main", "100")
    bad = ctl("dialplan", "app", "add", "main", "100", "goto", "procedure=nowhere", check=False)
    assert bad.returncode != 0 and "no procedure 'nowhere'" in bad.stderr
    bad = ctl("dialplan", "app", "add", "main", "100", "frobnicate", check=False)
    assert bad.returncode != 0 and "unknown application 'frobnicate'" in bad.stderr
    bad = ctl("dialplan", "entry", "add", "main", "1[2", check=False)
    assert bad.returncode != 0 and "without a closing" in bad.stderr
    bad = ctl("switch", "set", "nosuch", "on", check=False)
    assert bad.returncode != 0 and "no switch 'nosuch'" in bad.stderr
    assert "(no called numbers)" not in ctl("dialplan", "show", "main").stdout


def test_trace_of_an_acl_denial_and_of_preferences(wpbxd):
    ctl = wpbxd.ctl
    ctl("user", "add", "--name", "A", "--extension", "101")
    ctl("user", "add", "--name", "B", "--extension", "102")
    ctl("dialplan", "entry", "add", "users", "0X.")
    ctl("dialplan", "app", "add", "users", "0X.", "dial", "target=${called}")
    denied = ctl("dialplan", "trace", "--from", "101", "--to", "0039061234567").stdout
    assert "class international" in denied and "caller gets 403 Forbidden" in denied
    ctl("dialplan", "prefs", "set", "102", "--class", "internal", "call_waiting=off", "fwd_busy=101")
    busy = ctl("dialplan", "trace", "--from", "101", "--to", "102", "--busy", "102").stdout
    assert "102 is in a call and call waiting is off: busy" in busy
    assert "102 forwards when busy to 101" in busy


def test_smtp_profile_and_send_test_mail_from_the_console(wpbxd):
    import pytest

    controller_mod = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in deps/pip-test.txt")
    from tests.daemon_runner import free_port

    received = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.rcpt_tos)
            return "250 OK"

    controller = controller_mod.Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        ctl = wpbxd.ctl
        ctl("smtp", "set", "--sender", "pbx@example.com", "--server", "127.0.0.1", "--port", str(controller.port),
            "--helo", "pbx.example.com", "--password", "secret")
        shown = ctl("smtp", "show").stdout
        assert "password: ********" in shown and "secret" not in shown
        assert "test mail sent to admin@example.com" in ctl("smtp", "test", "admin@example.com").stdout
        assert received == [["admin@example.com"]]
    finally:
        controller.stop()
    failed = wpbxd.ctl("smtp", "test", "admin@example.com", check=False)
    assert failed.returncode != 0 and "cannot send mail through 127.0.0.1" in failed.stderr
    bad = wpbxd.ctl("smtp", "set", "--sender", "not-an-address", check=False)
    assert bad.returncode != 0 and "is not an email address" in bad.stderr
