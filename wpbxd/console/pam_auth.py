"""``wpbx-pam-auth``: checks the super admin's password for sshd through PAM.

Run by ``pam_exec.so expose_authtok`` (see ``image/setup-root.sh``): PAM puts the
user name in ``PAM_USER`` and writes the typed password, NUL-terminated, on stdin.
Only the ``admin`` account is accepted, and only with the super admin's WEB
password as wpbxd knows it (control command ``console.auth``), so the SSH password
is always the web password and a reset at the serial boot menu applies to SSH too.

Exit 0 = authenticated, 1 = refused (including when wpbxd is not running).
It never logs or stores the password.
"""

import os
import sys
from pathlib import Path

from wpbxd.console import client

ACCOUNT = "admin"
MAX_PASSWORD = 512  # bytes, PAM_MAX_RESP_SIZE
DEFAULT_DATA = Path("/var/lib/wpbx")


def main() -> int:
    if os.environ.get("PAM_USER") != ACCOUNT:
        return 1
    raw = sys.stdin.buffer.read(MAX_PASSWORD + 1)
    password = raw.split(b"\0", 1)[0].rstrip(b"\n").decode("utf-8", "replace")
    if not password:
        return 1
    data_dir = Path(os.environ.get("WPBX_DATA", DEFAULT_DATA))
    try:
        ok = client.request(data_dir, "console.auth", {"password": password}, timeout=15)
    except client.ControlError:
        return 1
    return 0 if ok is True else 1


if __name__ == "__main__":
    sys.exit(main())
