"""Fixtures for the web UI and API tests: a real wpbxd serving HTTPS on loopback."""

import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.daemon_runner import Wpbxd, free_port, free_rtp_range

ADMIN_PASSWORD = "Adm1n!pass-Web"  # what the tests set at first login
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@dataclass
class Web:
    daemon: Wpbxd

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.daemon.web_port}"

    @property
    def cert(self) -> str:
        return str(self.daemon.data_dir / "web-cert.pem")

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False  # else REQUESTS_CA_BUNDLE overrides the box's certificate
        s.verify = self.cert
        return s

    def get(self, s: requests.Session, path: str, **kw) -> requests.Response:
        return s.get(self.base + path, allow_redirects=kw.pop("allow_redirects", False), timeout=20, **kw)

    def post(self, s: requests.Session, path: str, data: dict | None = None, csrf: bool = True,
             **kw) -> requests.Response:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf", self.csrf(s, kw.pop("form_page", path)))
        return s.post(self.base + path, data=data, allow_redirects=kw.pop("allow_redirects", False),
                      timeout=20, **kw)

    def csrf(self, s: requests.Session, page: str) -> str:
        r = self.get(s, page)
        match = CSRF_RE.search(r.text)
        assert match, f"no CSRF token on {page}: {r.status_code} {r.text[:300]}"
        return match.group(1)

    def login(self, login: str, password: str) -> tuple[requests.Session, requests.Response]:
        s = self.session()
        token = self.csrf(s, "/login")
        r = s.post(self.base + "/login", data={"login": login, "password": password, "csrf": token},
                   allow_redirects=False, timeout=20)
        return s, r

    def admin(self) -> requests.Session:
        """A session of the super admin (the first-login change already done)."""
        s, r = self.login("admin", ADMIN_PASSWORD)
        assert r.status_code == 303, r.text[:500]
        return s

    def token(self, user: str = "admin") -> str:
        return self.daemon.call("web.token_create", {"user": user, "name": "tests"})["token"]

    def api(self, method: str, path: str, token: str, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return requests.request(method, self.base + "/api/v1" + path, headers=headers,
                                verify=self.cert, timeout=20, **kw)


def first_login(web: Web) -> None:
    """Do the forced first-login password change of ``admin``."""
    s, r = web.login("admin", "wildix")
    assert r.headers["Location"].endswith("/password")
    r = web.post(s, "/password", {"current": "wildix", "new": ADMIN_PASSWORD,
                                  "email": "pbx-admin@example.com"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/users"), r.text[:800]


def start_daemon(tmp: Path) -> Wpbxd:
    return Wpbxd(data_dir=tmp, sip_port=free_port(), web_port=free_port(),
                 rtp=free_rtp_range()).start()


@pytest.fixture
def fresh_web(tmp_path):
    """A factory-fresh box (admin / wildix, must change)."""
    daemon = start_daemon(tmp_path / "pbx")
    yield Web(daemon)
    daemon.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One box per test module, with the first-login change done."""
    daemon = start_daemon(tmp_path_factory.mktemp("webpbx"))
    w = Web(daemon)
    first_login(w)
    yield w
    daemon.stop()


@pytest.fixture(autouse=True)
def _quiet_urllib3():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("missing tool: chromium (Debian package; make test installs it)")
    return path
