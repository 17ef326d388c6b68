"""The firmware image, built once per test session (or taken from WPBX_IMAGE_DIR)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.daemon_runner import REPO

BUILD_TOOLS = ("mmdebstrap", "mkfs.ext4", "sfdisk", "partx", "losetup", "extlinux", "qemu-system-x86_64")


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    given = os.environ.get("WPBX_IMAGE_DIR")
    if given:
        path = Path(given)
        if not (path / "disk.img").exists():
            pytest.skip(f"WPBX_IMAGE_DIR={given} has no disk.img")
        return path
    if os.geteuid() != 0:
        pytest.skip("building the image needs root (loop devices, mmdebstrap)")
    missing = [t for t in BUILD_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing image tools: {', '.join(missing)} (make test installs them)")
    out = tmp_path_factory.mktemp("image")
    result = subprocess.run(["bash", str(REPO / "image" / "build"), str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise AssertionError(f"image/build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    print(result.stdout.splitlines()[-8:])
    return out
