"""The admin UI in a real browser: Debian's chromium driven headless by Playwright.

Seed: "Premier accès WMS", "Modification du mot de passe Admin", "Ajouter / Importer
des utilisateurs". Screenshots of the main pages go to tests/artifacts/ (git-ignored).
The tests share one box and run in file order: the first one does the forced
first-login password change the others sign in with.
"""

import time
from urllib.parse import urlparse

import pytest

from tests.conftest import need_tool
from tests.sip import sipp
from tests.web.conftest import ARTIFACTS, chromium_path, start_daemon
from tests.web.conftest import Web as WebBox
from wpbxd.config import passwords
from wpbxd.web import sound_pages

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEW_ADMIN_PASSWORD = "Br0wser!Admin"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    daemon = start_daemon(tmp_path_factory.mktemp("browserpbx"))
    yield WebBox(daemon)
    daemon.stop()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (driver only)")
    path = chromium_path()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, box):
    context = browser.new_context(ignore_https_errors=True, base_url=box.base,
                                  viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


UNLABELLED_JS = """
[...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.type !== 'hidden' && !e.hidden)
  .filter(e => e.tagName === 'BUTTON' ? !(e.textContent.trim() || e.getAttribute('aria-label'))
                                      : !(e.labels.length || e.getAttribute('aria-label')))
  .map(e => e.outerHTML.slice(0, 120))
"""


def unlabelled(pg) -> list[str]:
    """Form controls a screen reader could not name (every field has a label)."""
    return pg.evaluate(UNLABELLED_JS)


def sign_in(pg, login: str, password: str) -> None:
    pg.goto("/login")
    pg.get_by_label("Login").fill(login)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Sign in").click()


def sign_in_admin(pg) -> None:
    """Sign in as the super admin with the password the first test sets; when that test
    did not run (a test run alone), do the forced first-login change here first."""
    pg.goto("/login")
    pg.get_by_label("Login").fill("admin")
    pg.get_by_label("Password").fill(NEW_ADMIN_PASSWORD)
    with pg.expect_navigation():
        pg.get_by_role("button", name="Sign in").click()
    if urlparse(pg.url).path == "/users":
        return
    sign_in(pg, "admin", "wildix")
    pg.wait_for_url("**/password")
    pg.get_by_label("Current password").fill("wildix")
    pg.get_by_label("New password").fill(NEW_ADMIN_PASSWORD)
    pg.get_by_label("Administrator email").fill("admin@example.com")
    pg.get_by_role("button", name="Save").click()
    pg.wait_for_url("**/users")


def test_first_login_forces_a_policy_password_change_weak_refused(page, box):
    sign_in(page, "admin", "wildix")
    page.wait_for_url("**/password")
    shot(page, "first-login")
    page.get_by_label("Current password").fill("wildix")
    page.get_by_label("New password").fill("password1")
    page.get_by_label("Administrator email").fill("admin@example.com")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#f-new-err")
    assert "upper-case letter" in error.inner_text()
    assert page.get_by_label("Administrator email").input_value() == "admin@example.com"
    # the generator (JS: fetched from the server) fills in a compliant password, shown
    page.get_by_label("Current password").fill("wildix")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("document.getElementById('f-new').type === 'text'")
    assert passwords.policy_problems(page.locator("#f-new").input_value()) == []
    assert page.locator("#f-new").get_attribute("type") == "text"
    page.get_by_role("button", name="Hide").click()
    assert page.locator("#f-new").get_attribute("type") == "password"
    page.get_by_label("New password").fill(NEW_ADMIN_PASSWORD)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/users")
    assert "Password changed." in page.locator(".flash").inner_text()
    shot(page, "users")


def test_create_user_set_passwords_and_see_it_in_the_table(page, box):
    sign_in_admin(page)
    page.get_by_role("link", name="+ Add user").click()
    page.get_by_label("Name").fill("Léa Dupont")
    page.get_by_label("Extension").fill("210")
    page.get_by_label("Email").fill("lea@example.com")
    page.get_by_label("Department").fill("Accueil")
    shot(page, "user-add")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/users")
    row = page.locator("#users tr", has_text="Léa Dupont")
    assert "210" in row.inner_text() and "Accueil" in row.inner_text()
    assert row.locator(".dot.off").count() == 1  # no device registered: grey
    row.get_by_role("link", name="Set passwords of Léa Dupont").click()
    page.get_by_label("WEB password").fill("weak")
    page.get_by_role("button", name="Save").click()
    assert "special character" in page.locator("#f-web_password-err").inner_text()
    page.locator("#f-web_password").fill("L3a!webPass")
    page.locator("#f-sip_password").fill("L3a!sipPass")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/users")
    assert "Passwords of Léa Dupont set." in page.locator(".flash").inner_text()
    assert box.daemon.call("user.show", {"ref": "210"})["email"] == "lea@example.com"
    # the search field finds her
    page.get_by_label("Search").fill("Dupont")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#users tbody tr").count() == 1


def test_a_registered_phone_turns_the_status_green(page, box, tmp_path):
    """sipp registers as Léa (210) with the SIP password set in the UI above."""
    need_tool("sipp")
    scenario = sipp.write(tmp_path / "register.xml", sipp.register())
    accounts = sipp.users_csv(tmp_path / "users.csv", [("210", "L3a!sipPass")])
    result = sipp.run(scenario, f"127.0.0.1:{box.daemon.sip_port}", "-inf", str(accounts), "-m", "1",
                      cwd=tmp_path)
    assert result.returncode == 0, sipp.errors(tmp_path) or result.stderr[-2000:]
    sign_in_admin(page)
    row = page.locator("#users tr", has_text="Léa Dupont")
    assert row.locator(".dot.on").count() == 1
    box.daemon.call("user.add", {"name": "Idle Ivan", "extension": "299"})
    page.reload()
    assert page.locator("#users tr", has_text="Idle Ivan").locator(".dot.off").count() == 1
    # seed: green also while the user is signed in (here: the admin's own session)
    assert page.locator("#users tr", has_text="Administrator").locator(".dot.on").count() == 1
    shot(page, "users-registered")
    page.goto("/info")
    tile = page.locator(".tile", has_text="Registrations")
    assert tile.locator(".big").inner_text() == "1"


def test_csv_import_with_a_bad_row_imports_nothing_then_a_good_file(page, box, tmp_path):
    sign_in_admin(page)
    page.get_by_role("link", name="Import CSV").click()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,extension,email\nMarc,220,marc@example.com\nNina,22a,nina@example.com\n")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    message = page.locator("#f-file-err").inner_text()
    assert "line 3" in message
    shot(page, "import-error")
    assert box.daemon.call("user.list", {"search": "Marc"}) == []
    good = tmp_path / "good.csv"
    good.write_text("name,extension,email\nMarc,220,marc@example.com\nNina,221,nina@example.com\n")
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/users")
    assert "2 user(s) imported." in page.locator(".flash").inner_text()
    assert page.locator("#users tr", has_text="Nina").count() == 1


def test_form_without_csrf_token_is_rejected(page, box):
    sign_in_admin(page)
    page.goto("/users/new")
    page.get_by_label("Name").fill("Oscar")
    page.get_by_label("Extension").fill("230")
    page.evaluate("document.querySelectorAll('main input[name=csrf]').forEach(e => e.remove())")
    page.get_by_role("button", name="Save").click()
    assert "security token" in page.locator("main").inner_text()
    assert box.daemon.call("user.list", {"search": "Oscar"}) == []


def test_non_super_admin_cannot_edit_the_super_admin(page, box):
    box.daemon.call("user.add", {"type": "admin", "name": "Second Admin", "login": "second",
                                 "web_password": "S3cond!Adm"})
    sign_in(page, "second", "S3cond!Adm")
    page.wait_for_url("**/users")
    admin_row = page.locator("#users tr", has_text="Administrator")
    assert admin_row.get_by_role("link").count() == 0  # no Edit / Passwords / Delete
    assert page.get_by_role("link", name="Export CSV").count() == 0
    admin_id = box.daemon.call("user.show", {"ref": "admin"})["id"]
    response = page.goto(f"/users/{admin_id}/passwords")
    assert response.status == 403
    assert "only the super admin" in page.locator("main").inner_text()
    # plain users stay editable
    lea_row = page.locator("#users tr", has_text="Léa Dupont")
    page.goto("/users")
    assert lea_row.get_by_role("link", name="Edit Léa Dupont").count() == 1


def test_a_user_can_be_added_with_the_keyboard_only(page, box):
    sign_in_admin(page)
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    def tab_to(element_id: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reaches #{element_id}")

    for _ in range(40):  # to the "+ Add user" link, then follow it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "+ Add user":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/users/new")
    tab_to("f-name")
    page.keyboard.type("Kay Board")
    tab_to("f-extension")
    page.keyboard.type("260")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_url("**/users")
    assert box.daemon.call("user.show", {"ref": "260"})["name"] == "Kay Board"


def test_the_password_generator_works_without_javascript(browser, box):
    context = browser.new_context(ignore_https_errors=True, base_url=box.base, java_script_enabled=False)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        sign_in(pg, "admin", NEW_ADMIN_PASSWORD)
        pg.wait_for_url("**/users")
        user = box.daemon.call("user.add", {"name": "No Script", "extension": "270"})
        pg.goto(f"/users/{user['id']}/passwords")
        assert pg.locator("button[data-show]").first.is_hidden()  # no dead Show button
        pg.locator("#f-sip_password").locator("xpath=..").get_by_role("button", name="Generate").click()
        generated = pg.locator("#f-sip_password")
        assert generated.get_attribute("type") == "text"  # shown in clear by the server
        assert passwords.policy_problems(generated.input_value()) == []
        pg.get_by_role("button", name="Save", exact=True).last.click()
        pg.wait_for_url("**/users")
        assert "Passwords of No Script set." in pg.locator(".flash").inner_text()
    finally:
        context.close()


def test_screenshots_of_the_main_pages(page, box):
    sign_in_admin(page)
    pages = [("/info", "info"), ("/settings/pbx", "settings"), ("/settings/api-tokens", "api-tokens")]
    commands = box.daemon.call("help")
    if "dialplan.trace" in commands:
        box.daemon.call("timerange.set", {"name": "office",
                                          "weekly": "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"})
        pages += [("/dialplan", "dialplan"), ("/dialplan/p/pbxinternal", "procedure"),
                  ("/dialplan/trace?from=210&to=221", "trace"), ("/dialplan/timeranges", "timeranges"),
                  ("/dialplan/groups", "callgroups")]
    if "cdr.list" in commands:
        pages.append(("/calls", "calls"))
    if "calls.list" in commands:
        pages.append(("/debug", "debug"))
    if "calls.originate" in commands:
        pages.append(("/generate-call", "generate-call"))
    if "dhcp.device.list" in commands:
        pages += [("/devices", "devices"), ("/ports", "ports"), ("/settings/network", "network")]
    if "smtp.set" in commands:
        pages.append(("/settings/smtp", "smtp"))
    if "backup.create" in commands:
        pages.append(("/settings/backup", "backup"))
    if sound_pages.available():
        pages.append(("/sounds", "sounds"))
    pages.append(("/users/new", "user-form"))
    for path, name in pages:
        response = page.goto(path)
        assert response.status == 200 and urlparse(page.url).path == urlparse(path).path, (path, page.url)
        shot(page, name)
        assert unlabelled(page) == [], path
        assert page.evaluate("document.querySelectorAll('[src^=\"http\"], [href^=\"http\"]').length") == 0
    page.set_viewport_size({"width": 390, "height": 800})  # a phone
    page.goto("/users")
    shot(page, "users-phone")


def test_seed_main_example_built_in_the_ui_routes_a_real_call(page, box, tmp_path):
    """Seed "Exemple de Dialplan main": one number for support, one for sales, each routed
    to its desk. Built with the browser; a sipp caller whose dialplan is ``main`` stands
    in for the trunk (trunks are not built yet); a sipp UAS registered as the sales desk
    answers. The call then shows in the Calls page."""
    need_tool("sipp")
    commands = box.daemon.call("help")
    if "dialplan.trace" not in commands or "calls.list" not in commands:
        pytest.skip("the dialplan and SIP services are needed")
    e2e = pytest.importorskip("tests.dialplan.test_e2e_sip", reason="the SIP e2e helpers are needed")
    sign_in_admin(page)
    page.get_by_role("link", name="Dialplan").click()
    page.get_by_role("link", name="main", exact=True).click()
    for number, desk in (("0380000001", "4201"), ("0380000002", "4202")):
        form = page.locator("#add-number")
        form.get_by_label("Number or pattern").fill(number)
        form.get_by_label("First application").select_option("dial")
        form.get_by_label("Parameters").fill(f"target={desk}")
        form.get_by_role("button", name="Add number").click()
        assert f"Number {number} added." in page.locator(".flash").inner_text()
    shot(page, "main-example")
    plan = box.daemon.call("dialplan.show", {"name": "main"})
    assert [(e["pattern"], e["apps"][0]["params"]["target"]) for e in plan["entries"]] == [
        ("0380000001", "4201"), ("0380000002", "4202")]
    # the caller standing in for the trunk follows the "main" procedure (chosen in the user form)
    password = e2e.PASSWORD
    for ext in ("4201", "4202", "4209"):
        box.daemon.call("user.add", {"name": f"Desk {ext}", "extension": ext,
                                     "sip_password": password.format(ext=ext)})
    trunk_id = box.daemon.call("user.show", {"ref": "4209"})["id"]
    page.goto(f"/users/{trunk_id}/edit")
    page.get_by_label("Dialplan", exact=True).select_option("main")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/users")
    assert box.daemon.call("user.show", {"ref": "4209"})["dialplan"] == "main"
    pbx = box.daemon
    pbx.folder, pbx.uas_procs = tmp_path, []
    try:
        sales = e2e.phone(pbx, "4202", "answer")
        e2e.ok(pbx, e2e.call(pbx, "0380000002", caller="4209"))
        assert e2e.finished(sales) == 0
    finally:
        for proc in pbx.uas_procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    deadline = time.monotonic() + 10
    while not box.daemon.call("cdr.list", {"limit": 5}) and time.monotonic() < deadline:
        time.sleep(0.1)  # the record is written when the call object ends
    page.goto("/calls")
    row = page.locator("#calls tbody tr", has_text="4209")
    assert row.count() >= 1 and "answered" in row.first.inner_text() and "4202" in row.first.inner_text()
    shot(page, "calls-after-main-example")
