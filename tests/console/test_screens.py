"""The console screens, byte by byte (seed: "Accès au PBX via le port série RS-232 et SSH")."""

from wpbxd.console.lineedit import EndOfInput, Interrupt, Line, LineEditor, LineTooLong
from wpbxd.console.screens import (
    Boot,
    BootMenu,
    CheckLogin,
    Close,
    ConsoleMenu,
    LoggedIn,
    LoginPrompt,
    LoginThrottle,
    Recover,
    ResetAdmin,
    RunEntry,
)

CODE = "K7QX-4M2P-9TZC"


def test_editor_handles_backspace_del_crlf_and_escape_sequences():
    ed = LineEditor()
    assert ed.feed(b"12\x083\r\n") == [Line("13")]
    assert ed.feed(b"ab\x7fc\x1b[Ad\n") == [Line("acd")]
    assert ed.feed(b"\rx\r") == [Line(""), Line("x")]


def test_editor_drops_line_noise_and_8bit_bytes():
    ed = LineEditor()
    assert ed.feed(b"\x00\x01y\xff\xfee\x92s\x02\r") == [Line("yes")]


def test_editor_reports_ctrl_c_and_ctrl_d_only_on_an_empty_line():
    ed = LineEditor()
    assert ed.feed(b"abc\x03") == [Interrupt()]
    assert ed.pending == ""
    assert ed.feed(b"x\x04") == []
    assert ed.feed(b"\x15\x04") == [EndOfInput()]


def test_editor_refuses_very_long_lines_with_a_bell():
    ed = LineEditor(max_length=8)
    events = ed.feed(b"A" * 5000 + b"\r")
    assert events == [LineTooLong(5000)]
    assert ed.take_output().count(b"\x07") == 4992
    assert ed.feed(b"ok\r") == [Line("ok")]


def test_editor_does_not_echo_secrets():
    ed = LineEditor()
    ed.secret = True
    ed.feed(b"wildix\r")
    assert b"wildix" not in ed.take_output()


def test_boot_menu_boots_normally_when_nobody_types():
    menu = BootMenu(CODE, now=100.0, countdown=5.0)
    assert b"Boot normally" in menu.take_output()
    assert menu.deadline() == 105.0
    assert menu.tick(104.9) == []
    assert menu.tick(105.0) == [Boot()]
    assert menu.deadline() is None


def test_boot_menu_noise_does_not_stop_the_countdown_but_a_key_does():
    menu = BootMenu(CODE, now=0.0, countdown=5.0)
    menu.feed(b"\x00\xff\x1b", 1.0)
    assert menu.tick(5.0) == [Boot()]
    menu = BootMenu(CODE, now=0.0, countdown=5.0)
    menu.feed(b"2", 1.0)
    assert menu.tick(6.0) == []
    assert menu.feed(b"\x08\r", 7.0) == []


def test_abandoned_boot_menu_boots_after_the_idle_timeout():
    menu = BootMenu(CODE, now=0.0, countdown=5.0, idle_timeout=60.0)
    menu.feed(b"x", 1.0)
    assert menu.tick(50.0) == []
    assert menu.tick(61.0) == [Boot()]


def test_reset_admin_needs_the_confirmation_word():
    menu = BootMenu(CODE, now=0.0)
    assert menu.feed(b"2\rno\r", 1.0) == []
    assert b"nothing changed" in menu.take_output()
    assert menu.feed(b"2\ryes\r", 2.0) == [ResetAdmin()]
    menu.action_done("Admin password reset.")
    assert b"Choice [1-3]" in menu.take_output()


def test_recover_needs_word_and_code_and_throttles_guessing():
    menu = BootMenu(CODE, now=0.0)
    assert menu.feed(b"3\rrecover\r", 1.0) == []
    assert menu.feed(b"3\rRECOVER\rWRONG-CODE\r", 2.0) == []
    out = menu.take_output()
    assert b"Wrong recovery code" in out and b"WRONG-CODE" not in out
    for attempt in range(3):
        menu.feed(b"3\rRECOVER\rBAD\r", 3.0 + attempt)
    assert menu.feed(f"3\rRECOVER\r{CODE}\r".encode(), 6.0) == []  # locked: even the right code
    assert b"try again" in menu.take_output()
    assert menu.feed(f"3\rRECOVER\r{CODE.lower()}\r".encode(), 1000.0) == [Recover()]


def test_ctrl_c_cancels_a_destructive_question():
    menu = BootMenu(CODE, now=0.0)
    assert menu.feed(b"3\rRECO\x03", 1.0) == []
    assert menu.state == "choose"


def test_login_throttles_per_terminal_with_injected_time():
    throttle = LoginThrottle(free=3, base=5.0)
    login = LoginPrompt(throttle)
    for i in range(3):
        effects = login.feed(b"admin\rbad\r", float(i))
        assert effects == [CheckLogin("admin", "bad")]
        login.login_result(False, float(i))
    assert throttle.wait(2.0) == 5.0  # the third failure locks
    login.take_output()
    assert login.feed(b"admin\r", 4.0) == []
    assert b"Too many failed logins" in login.take_output()
    assert login.feed(b"admin\rbad\r", 8.0) == [CheckLogin("admin", "bad")]
    login.login_result(False, 8.0)
    assert throttle.wait(8.0) == 10.0  # doubles
    assert login.feed(b"admin\rwildix\r", 18.0) == [CheckLogin("admin", "wildix")]
    assert login.login_result(True, 18.0) == [LoggedIn("admin")]
    assert throttle.failures == 0


def test_password_is_not_echoed_at_login():
    login = LoginPrompt()
    login.feed(b"admin\rs3cret!\r", 0.0)
    assert b"s3cret" not in login.take_output()


def test_menu_runs_plain_entries_and_confirms_destructive_ones():
    menu = ConsoleMenu(super_admin_verified=True)
    assert menu.feed(b"1\r", 0.0) == [RunEntry("engine")]
    menu.entry_done()
    assert menu.feed(b"7\rno\r", 0.0) == []
    assert b"Cancelled" in menu.take_output()
    assert menu.feed(b"7\ryes\r", 0.0) == [RunEntry("reboot")]
    menu.entry_done()
    assert menu.feed(b"3\rbad host!\rexample.lan\r2\r", 0.0) == [RunEntry("traceroute", "example.lan")]
    menu.entry_done()
    assert menu.feed(b"\x04", 0.0) == [Close()]


def test_shell_over_ssh_needs_the_super_admin_password_then_confirmation():
    menu = ConsoleMenu(super_admin_verified=False)
    assert menu.feed(b"9\rnope\r", 0.0) == [CheckLogin("admin", "nope")]
    menu.login_result(False, 0.0)
    assert b"Wrong super admin password" in menu.take_output()
    assert menu.feed(b"9\rgood\r", 1.0) == [CheckLogin("admin", "good")]
    assert menu.login_result(True, 1.0) == []
    assert menu.feed(b"yes\r", 1.0) == [RunEntry("shell")]
