"""Fixtures for the trunk tests: a private MariaDB server, a loopback DNS server (dnsmasq)."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import need_tool

MARIADBD = "/usr/sbin/mariadbd"
START_TIMEOUT = 30.0     # seconds for mariadbd to open its socket


class MariaDb:
    """A MariaDB server of the test's own: datadir and socket in a temp dir, no TCP port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.datadir = base / "data"
        self.socket = str(base / "mysqld.sock")
        self.proc: subprocess.Popen | None = None

    def install(self) -> None:
        args = ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
                "--auth-root-authentication-method=normal"]
        if os.geteuid() == 0:
            args.append("--user=root")
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        args = [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                "--skip-networking", f"--pid-file={self.base / 'mysqld.pid'}",
                f"--log-error={self.base / 'error.log'}", "--innodb-buffer-pool-size=16M"]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(self.socket) and self.query("SELECT 1") == [(1,)]:
                return
            if self.proc.poll() is not None:
                raise RuntimeError((self.base / "error.log").read_text()[-2000:])
            time.sleep(0.2)
        raise RuntimeError("mariadbd did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, sql: str, user: str = "root", password: str = "", database: str | None = None) -> list:
        import pymysql

        try:
            conn = pymysql.connect(unix_socket=self.socket, user=user, password=password, database=database,
                                   connect_timeout=2)
        except pymysql.err.OperationalError:
            return []
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                rows = list(cur.fetchall())
            conn.commit()
            return rows
        finally:
            conn.close()


@pytest.fixture
def sipp_dir(tmp_path):
    need_tool("sipp")
    path = tmp_path / "sipp"
    path.mkdir()
    return path


@pytest.fixture
def mariadb(tmp_path_factory):
    if not os.path.exists(MARIADBD):
        pytest.skip("mariadbd is not installed (Debian mariadb-server)")
    need_tool("mariadb-install-db")
    server = MariaDb(tmp_path_factory.mktemp("mariadb"))
    server.install()
    server.start()
    server.query("CREATE DATABASE pbx")
    server.query("CREATE USER 'pbx'@'localhost' IDENTIFIED BY 'Cdr_pw1'")
    server.query("GRANT ALL ON pbx.* TO 'pbx'@'localhost'")
    yield server
    server.stop()


@pytest.fixture
def dns_server(tmp_path):
    """dnsmasq on a free loopback port answering only from its own records (no upstream)."""
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (Debian dnsmasq-base)")
    from tests.daemon_runner import free_port

    port = free_port()
    procs: list[subprocess.Popen] = []

    def start(records: list[str]) -> int:
        conf = tmp_path / "dnsmasq.conf"
        conf.write_text("\n".join(["no-resolv", "no-hosts", "no-poll", "bind-interfaces",
                                   "listen-address=127.0.0.1", f"port={port}", "local=/test/",
                                   *records]) + "\n")
        proc = subprocess.Popen(["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}",
                                 f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--log-facility=-"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode(errors="replace"))
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
