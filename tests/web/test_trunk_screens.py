"""The Trunks, price lists, CDR backends and Reboot / Shutdown pages in chromium:
a trunk added through the form (an error shown next to its field first), every
control labelled, each page under 100 KB, screenshots saved as artifacts."""

import pytest

from tests.web.conftest import ADMIN_PASSWORD, ARTIFACTS, chromium_path
from tests.web.test_browser import CHROMIUM_FLAGS, UNLABELLED_JS

TIMEOUT_MS = 15_000
PAGE_LIMIT = 100_000  # bytes


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (driver only)")
    path = chromium_path()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _check(pg, name: str) -> None:
    assert pg.evaluate(UNLABELLED_JS) == [], name
    assert len(pg.content().encode()) < PAGE_LIMIT, name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def test_trunk_pages_in_chromium(browser, web, tmp_path):
    context = browser.new_context(ignore_https_errors=True, base_url=web.base, viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        pg.goto("/login")
        pg.get_by_label("Login").fill("admin")
        pg.get_by_label("Password").fill(ADMIN_PASSWORD)
        pg.get_by_role("button", name="Sign in").click()
        pg.wait_for_url("**/users")
        pg.get_by_role("link", name="Trunks").click()
        pg.get_by_role("link", name="+ Add trunk").click()
        pg.get_by_label("Title").fill("Operator")
        pg.get_by_label("Trunk name").fill("operator")
        pg.get_by_label("Login").fill("0123456789")
        pg.get_by_label("Host[:port] or 'dynamic'").fill("sip.example.invalid:99999")
        pg.get_by_label("Password").fill("Op3rator!")
        pg.get_by_label("Country code").fill("33")
        pg.get_by_role("button", name="Save").click()
        assert "must be 1-65535" in pg.locator("#f-host-err").inner_text()
        assert pg.get_by_label("Title").input_value() == "Operator"
        _check(pg, "trunk-form-error")
        pg.get_by_label("Host[:port] or 'dynamic'").fill("192.0.2.50")
        pg.get_by_label("Password").fill("Op3rator!")
        pg.get_by_role("button", name="Save").click()
        pg.wait_for_url("**/trunks")
        assert "operator" in pg.locator("#trunks").inner_text()
        _check(pg, "trunks")
        pg.get_by_role("link", name="Price lists").click()
        csv = tmp_path / "rates.csv"
        csv.write_text("0033,France,0.02,0,60,0,1,7,0,86400\n0033,France,0.03,0,60,0,1,7,0,86400\n")
        pg.get_by_label("List name").fill("standard")
        pg.get_by_label("CSV file").set_input_files(str(csv))
        pg.get_by_role("button", name="Import").click()
        assert "line 2: same dialprefix and window as line 1" in pg.locator("#f-file-err").inner_text()
        _check(pg, "pricelists-error")
        csv.write_text("0033,France,0.02,0,60,0,1,7,0,86400\n0033,France nights,0.01,0,60,0,1,7,72000,28800\n")
        pg.get_by_label("CSV file").set_input_files(str(csv))
        pg.get_by_role("button", name="Import").click()
        pg.wait_for_url("**/trunks/pricelists/standard")
        assert "France nights" in pg.locator("#rates").inner_text()
        _check(pg, "pricelist")
        pg.goto("/trunks/groups")
        _check(pg, "trunk-groups")
        pg.goto("/settings/cdr-backends")
        _check(pg, "cdr-backends")
        pg.goto("/power")
        assert "host mode" in pg.locator("#why").inner_text()
        _check(pg, "power")
    finally:
        context.close()
        web.daemon.call("trunk.del", {"name": "operator"})
