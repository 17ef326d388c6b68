"""Console (seed: secondary menu item 11) and Reboot / Shutdown (item 13), super
admin only: ``wpbx-console`` in a server-side pty driven from chromium, its
process ended by PID when the page goes away or the session ends; the power page
refusing to act off the appliance, with its confirmation and CSRF rules."""

import os
import re
import time
from html import unescape

import pytest

from tests.web.conftest import ADMIN_PASSWORD, ARTIFACTS, chromium_path, first_login

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000
DEPUTY = ("deputy5", "D3puty!Adm")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def _pid(html: str) -> int:
    match = re.search(r"\(process (\d+)\)", html)
    assert match, html[:2000]
    return int(match.group(1))


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (driver only)")
    path = chromium_path()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def test_console_in_chromium_shows_the_menu_runs_network_status_and_ends_with_the_page(browser, web):
    context = browser.new_context(ignore_https_errors=True, base_url=web.base, viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        pg.goto("/login")
        pg.get_by_label("Login").fill("admin")
        pg.get_by_label("Password").fill(ADMIN_PASSWORD)
        pg.get_by_role("button", name="Sign in").click()
        pg.wait_for_url("**/users")
        pg.get_by_role("link", name="Console").click()
        pg.wait_for_url("**/console")
        screen = pg.locator("#screen")
        expect = pytest.importorskip("playwright.sync_api").expect
        expect(screen).to_contain_text("Choice [0-9]")
        assert "Network status" in screen.inner_text()
        pid = _pid(pg.content())
        assert _alive(pid)
        screen.click()
        pg.keyboard.type("2")
        pg.keyboard.press("Enter")
        # the network status lists the loopback link (or says why it cannot)
        expect(screen).to_contain_text(re.compile(r"Choice \[0-9\]: 2\n(.|\n)*(\blo +|127\.0\.0\.1/8|pyroute2 is not installed)"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "web-console.png"), full_page=True)
        assert len(pg.content().encode()) < 100_000
        pg.get_by_role("link", name="Info").click()
        pg.wait_for_url("**/info")
        assert _gone(pid), f"console process {pid} still running after the page went away"
    finally:
        context.close()


def test_console_without_scripts_sends_a_line_and_ends_on_logout(web):
    s = web.admin()
    html = web.get(s, "/console").text
    pid = _pid(html)
    assert "Choice [0-9]" in unescape(html) or _alive(pid)
    assert web.get(s, "/console/events", stream=True).headers["Content-Type"].startswith("text/event-stream")
    r = web.post(s, "/console/input", {"line": "2"}, form_page="/console")
    assert r.status_code == 303
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        again = unescape(web.get(s, "/console").text)
        if re.search(r"Choice \[0-9\]: 2\n(.|\n)*(127\.0\.0\.1/8|pyroute2 is not installed)", again):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no network status on the console page:\n" + again[-3000:])
    assert _pid(again) == pid  # one console per session
    r = web.post(s, "/console/input", {"keys": "x"}, csrf=False)
    assert r.status_code == 403
    web.post(s, "/logout", {}, form_page="/console")
    assert _gone(pid), f"console process {pid} still running after logout"


def test_non_super_admin_gets_403_on_console_and_power_and_no_menu_entries(web):
    web.daemon.call("user.add", {"type": "admin", "name": "Deputy Five", "login": DEPUTY[0],
                                 "web_password": DEPUTY[1]})
    s, r = web.login(*DEPUTY)
    assert r.status_code == 303
    page = web.get(s, "/users").text
    assert 'href="/console"' not in page and 'href="/power"' not in page
    assert web.get(s, "/console").status_code == 403
    assert web.get(s, "/power").status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    for path, data in (("/console/input", {"keys": "2\r"}), ("/power", {"action": "reboot", "confirm": "1"})):
        r = s.post(web.base + path, data={**data, "csrf": token}, allow_redirects=False, timeout=20)
        assert r.status_code == 403, path


def test_power_page_refuses_off_the_appliance_and_checks_confirmation_and_csrf(web):
    s = web.admin()
    html = web.get(s, "/power").text
    assert "host mode" in unescape(html) and 'href="/power"' in html
    r = web.post(s, "/power", {"action": "reboot", "confirm": "1"}, csrf=False)
    assert r.status_code == 403
    r = web.post(s, "/power", {"action": "reboot"}, form_page="/power")
    assert r.status_code == 400 and "tick the box" in r.text and 'id="f-confirm-err"' in r.text
    assert 'value="reboot" checked' in r.text  # the choice is kept
    r = web.post(s, "/power", {"action": "halt", "confirm": "1"}, form_page="/power")
    assert r.status_code == 400 and 'id="f-action-err"' in r.text
    r = web.post(s, "/power", {"action": "shutdown", "confirm": "1"}, form_page="/power")
    assert r.status_code == 200 and "Nothing done." in unescape(r.text)
    assert web.daemon.proc.poll() is None


def test_console_output_cleaning_and_screen_building():
    from wpbxd.web.webconsole import Chunk, clean, screen

    assert clean("\x1b[2J\x1b[1;1Hmenu\r\n\x1b]0;title\x07ok\x00") == "menu\nok"
    assert screen([Chunk(1, "Choice: 23"), Chunk(2, "\b \b\b \b2\n")]) == "Choice: 2\n"
    assert screen([Chunk(1, "a\n\b\bb")]) == "a\nb"  # backspace never crosses a line


def test_console_process_ends_with_the_daemon(fresh_web):
    first_login(fresh_web)
    s = fresh_web.admin()
    pid = _pid(fresh_web.get(s, "/console").text)
    assert _alive(pid)
    fresh_web.daemon.stop()
    assert _gone(pid), f"console process {pid} outlived the daemon"
