"""sipp registers many users with digest authentication (RFC 3261 §10, RFC 7616)."""

from tests.sip import sipp
from tests.sip.conftest import add_users, password_for

USERS = 1000


def test_sipp_registers_1000_users_with_digest_auth(wpbxd, sipp_dir):
    extensions = [str(2000 + i) for i in range(USERS)]
    add_users(wpbxd, extensions)
    scenario = sipp.write(sipp_dir / "register.xml", sipp.register())
    users = sipp.users_csv(sipp_dir / "users.csv", [(e, password_for(e)) for e in extensions])
    result = sipp.run(scenario, f"127.0.0.1:{wpbxd.sip_port}", "-inf", str(users), "-m", str(USERS),
                      "-r", "200", "-l", "100", cwd=sipp_dir)
    assert result.returncode == 0, sipp.errors(sipp_dir) or result.stderr[-2000:]
    regs = wpbxd.call("registrations.list")
    assert sorted(r["aor"] for r in regs) == sorted(extensions)
    assert all(r["source"].startswith("udp:127.0.0.1:") and r["expires_in"] > 3000 for r in regs)
    assert wpbxd.call("status")["sip"]["auth_failures"] == 0
