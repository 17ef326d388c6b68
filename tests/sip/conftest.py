"""Fixtures for the SIP tests: a wpbxd with users, and a scratch directory for sipp."""

import csv
import io

import pytest

from tests.conftest import need_tool

PASSWORD = "Sip_{ext}pw"        # policy: upper, lower, digit, special, >= 8 characters


def password_for(ext: str) -> str:
    return PASSWORD.format(ext=ext)


def add_users(pbx, extensions: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["extension", "name", "sip_password"])
    for ext in extensions:
        writer.writerow([ext, f"User {ext}", password_for(ext)])
    pbx.call("user.import", {"csv": buf.getvalue()})


@pytest.fixture
def sipp_dir(tmp_path):
    need_tool("sipp")
    path = tmp_path / "sipp"
    path.mkdir()
    return path
