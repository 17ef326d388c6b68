"""wpbx-pam-auth: sshd's PAM check of the admin password against wpbxd (issue 9, SSH as admin)."""

import os
import subprocess
import sys

from tests.daemon_runner import REPO


def _pam(data_dir, user: str, password: bytes) -> int:
    env = dict(os.environ, PAM_USER=user, WPBX_DATA=str(data_dir))
    return subprocess.run([sys.executable, "-m", "wpbxd.console.pam_auth"], input=password,
                          env=env, cwd=REPO, timeout=60).returncode


def test_only_admin_with_the_super_admin_web_password_is_accepted(wpbxd):
    assert _pam(wpbxd.data_dir, "admin", b"wildix\0") == 0
    assert _pam(wpbxd.data_dir, "admin", b"wrong\0") == 1
    assert _pam(wpbxd.data_dir, "root", b"wildix\0") == 1
    assert _pam(wpbxd.data_dir, "admin", b"\0") == 1
    wpbxd.call("user.passwd", {"ref": "admin", "web_password": "N3w!Secret"})
    assert _pam(wpbxd.data_dir, "admin", b"wildix\0") == 1
    assert _pam(wpbxd.data_dir, "admin", b"N3w!Secret\0") == 0


def test_refuses_when_wpbxd_is_not_running(tmp_path):
    assert _pam(tmp_path, "admin", b"wildix\0") == 1
