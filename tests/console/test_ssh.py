"""The console menu over a real OpenSSH server and client (seed: "Accès au PBX ... SSH").

sshd (Debian openssh-server) runs on a loopback port with its own host key and a
``ForceCommand`` that starts ``wpbx-console`` against the test's wpbxd; ``ssh -tt``
logs in with a key, in a pty, and types like a person. Root login is allowed only
in this throw-away config.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need_root, need_tool
from tests.console.ptycable import PtyProcess
from tests.daemon_runner import REPO, free_port
from tests.sip import sipp
from tests.sip.conftest import add_users
from tests.sip.test_sipp_calls import CALLEE, CALLER, finish, register_at, start_uas

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 10.0  # seconds for sshd to listen


def sshd_config(tmp: Path, port: int, data_dir: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "client_key")], check=True)
    shutil.copy(tmp / "client_key.pub", tmp / "authorized_keys")
    command = f"cd {REPO} && exec {sys.executable} -m wpbxd.console.menu --data {data_dir} --mode host"
    config = tmp / "sshd_config"
    config.write_text(f"""
Port {port}
ListenAddress 127.0.0.1
HostKey {tmp / 'host_key'}
PidFile {tmp / 'sshd.pid'}
AuthorizedKeysFile {tmp / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
AllowUsers root
ForceCommand {command}
PermitTTY yes
""")
    return config


@pytest.fixture
def ssh_server(tmp_path, wpbxd):
    need_root()
    need_tool("ssh", "ssh-keygen")
    if not os.access(SSHD, os.X_OK):
        pytest.skip("missing openssh-server (make test installs it)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    tmp = tmp_path / "ssh"
    tmp.mkdir()
    port = free_port(socket.SOCK_STREAM)
    config = sshd_config(tmp, port, wpbxd.data_dir)
    log = open(tmp / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError((tmp / "sshd.log").read_text()) from None
            time.sleep(0.05)
    yield port, tmp
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture
def sipp_dir(tmp_path):
    need_tool("sipp")
    path = tmp_path / "sipp"
    path.mkdir()
    return path


def ssh_login(port: int, tmp: Path) -> PtyProcess:
    return PtyProcess([
        "ssh", "-tt", "-F", "/dev/null", "-p", str(port), "-i", str(tmp / "client_key"),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1",
        "ignored-because-of-ForceCommand",
    ])


def test_ssh_menu_shows_syslog_and_guards_the_shell(ssh_server, wpbxd):
    need_tool("ping")
    port, tmp = ssh_server
    term = ssh_login(port, tmp)
    try:
        term.expect(r"wpbx console")
        term.expect(r"9  Shell \(super admin\)")
        term.expect(r"Choice \[0-9\]: ")
        term.type("5\r")
        term.expect(r"Following the system log")
        term.expect(r"INFO wpbxd: wpbxd \S+ ready")  # a line the daemon logged at start
        term.type("\x03")
        term.expect(r"Choice \[0-9\]: ")
        term.type("9\r")
        term.expect(r"Super admin password: ")
        term.type("not-it\r")
        term.expect(r"Wrong super admin password")
        term.expect(r"Choice \[0-9\]: ")
        term.type("9\r")
        term.expect(r"Super admin password: ")
        term.type("wildix\r")
        term.expect(r"Open a shell as the system user admin.*Type yes to confirm: ")
        term.type("yes\r")
        term.expect(r"'exit' returns to the menu")
        term.type("echo MARK$((6*7))\r")
        term.expect(r"MARK42")
        term.type("exit\r")
        term.expect(r"Choice \[0-9\]: ")
        term.type("2\r")
        term.expect(r"lo\s+\S+\s+.*127\.0\.0\.1/8")  # network status: the loopback link and address
        term.expect(r"Choice \[0-9\]: ")
        term.type("3\r127.0.0.1\r1\r")
        term.expect(r"4 packets transmitted, 4 received")
        term.expect(r"Choice \[0-9\]: ")
        term.type("4\r")
        term.expect(r"\(none\)")  # nobody registered yet
        term.expect(r"Choice \[0-9\]: ")
        term.type("8\r")
        term.expect(r"Shut the PBX down.*Type yes to confirm: ")
        term.type("yes\r")
        term.expect(r"only available on the appliance; nothing done")
        term.type("0\r")
        term.expect(r"Bye")
        assert term.proc.wait(10) == 0
    finally:
        term.close()


def test_ssh_engine_cli_shows_a_call_placed_during_the_session(ssh_server, wpbxd, sipp_dir):
    port, tmp = ssh_server
    add_users(wpbxd, [CALLER, CALLEE])
    uas_port = free_port()
    register_at(wpbxd, sipp_dir, CALLEE, uas_port)
    term = ssh_login(port, tmp)
    try:
        term.expect(r"Choice \[0-9\]: ")
        term.type("1\r")
        term.expect(r"Connected to wpbx")
        term.expect(r"wpbx\*CLI> ")
        term.type("show registrations\r")
        term.expect(CALLEE)
        term.expect(r"wpbx\*CLI> ")
        uas = start_uas(wpbxd, sipp_dir, "answer", uas_port)
        scenario = sipp.write(sipp_dir / "uac.xml", sipp.uac_call())
        users = sipp.users_csv(sipp_dir / "uac.csv", [(CALLER, f"Sip_{CALLER}pw")], callee=CALLEE)
        uac = sipp.run(scenario, f"127.0.0.1:{wpbxd.sip_port}", "-inf", str(users), "-m", "1",
                       "-d", "1000", "-p", str(free_port()), cwd=sipp_dir, wait=False, timeout=30)
        term.expect(rf"new call {CALLER} -> {CALLEE}")
        assert finish(uac) == 0, sipp.errors(sipp_dir)
        assert finish(uas) == 0, sipp.errors(sipp_dir)
        term.type("exit\r")
        term.expect(r"Choice \[0-9\]: ")
        term.type("0\r")
        term.expect(r"Bye")
    finally:
        term.close()
