"""Package and native build for wpbx.

Every ``native/*_build.py`` that defines a module-level ``ffibuilder`` (cffi,
out-of-line API mode) is compiled into the ``wpbxd`` package, so adding a C hot
path never touches this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _lines(name: str) -> list[str]:
    path = HERE / "deps" / name
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _version() -> str:
    ns: dict = {}
    exec((HERE / "wpbxd" / "version.py").read_text(), ns)
    return ns["__version__"]


setup(
    name="wpbx",
    version=_version(),
    description="Software of a hardware office PBX appliance",
    packages=find_packages(include=["wpbxd", "wpbxd.*"]),
    package_data={"wpbxd": ["config/migrations/*.sql", "web/views/*", "web/static/*"]},
    python_requires=">=3.11",
    install_requires=_lines("pip-runtime.txt"),
    setup_requires=["cffi>=1.16"],
    cffi_modules=[
        f"{p.relative_to(HERE).as_posix()}:ffibuilder" for p in sorted((HERE / "native").glob("*_build.py"))
    ],
    entry_points={
        "console_scripts": [
            "wpbxd = wpbxd.daemon:main",
            "wpbxctl = wpbxd.console.wpbxctl:main",
            "wpbx-console = wpbxd.console.menu:main",
            "wpbx-pam-auth = wpbxd.console.pam_auth:main",
        ]
    },
)
