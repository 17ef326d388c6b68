"""System upgrade (seed: "Mise à niveau du système"): signed update bundles, the A/B
root slots and the trial boot of a new version.

An update bundle is an uncompressed tar whose first two members are
``manifest.json`` (format, version, build date, minimum version it upgrades from,
size and SHA-256 of every other member) and ``manifest.sig`` (an Ed25519 signature
over the manifest's bytes), followed by ``rootfs.ext4.gz`` (the root filesystem),
``vmlinuz`` and ``initrd.img``. A bundle is refused, with nothing written, when its
signature does not verify against a key in ``/etc/wpbx/upgrade-keys/*.pub``, when
it is not newer than the running version ("La rétrogradation n'est pas prise en
charge"), when a member's checksum differs, or when no backup was made in the last
``BACKUP_MAX_AGE`` seconds (the caller may ask for one to be made first).

The box has two root slots (``a``, ``b``), a boot partition (extlinux and a kernel
per slot) and a data partition. Installing writes the new root to the slot not
running, its kernel to the boot partition, and makes the next boot a *trial* of
that slot. The slot rules are the pure functions ``begin_trial``, ``on_boot``,
``on_healthy`` and ``boot_default`` over a ``SlotState``: on the trial boot an early
unit (``python -m wpbxd.services.upgrade boot``) points the boot loader back at the
confirmed slot before anything else runs, so any reboot from then on — a crash,
the watchdog, the health deadline — falls back; ``... health`` waits for wpbxd to
be active and to answer ``upgrade.confirm`` (which makes the new slot the
confirmed one) and reboots when wpbxd keeps failing or the deadline passes.

This module never writes outside the inactive slot, the boot partition's wpbx
files (``extlinux.conf``, ``wpbx-slots.json``, ``<slot>/``) and the data directory.
"""

import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from wpbxd import __version__
from wpbxd.errors import NotFound, UserError, ValidationError
from wpbxd.service import DaemonConfig, ServiceContext

log = logging.getLogger(__name__)

FORMAT = "wpbx-update"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ROOT_MEMBER = "rootfs.ext4.gz"
KERNEL_MEMBER = "vmlinuz"
INITRD_MEMBER = "initrd.img"
MEMBERS = (ROOT_MEMBER, KERNEL_MEMBER, INITRD_MEMBER)
BUNDLE_SUFFIX = ".wpbx"
MAX_MANIFEST = 1024 * 1024  # bytes
SIGNATURE_SIZE = 64  # bytes (Ed25519)
CHUNK = 1024 * 1024  # bytes per read while hashing and writing
BACKUP_MAX_AGE = 3600.0  # seconds: a backup older than this does not count as fresh
HEALTH_DEADLINE = 900.0  # seconds from the trial boot to a healthy wpbxd (software emulation is slow)
MAX_START_FAILURES = 3  # wpbxd restarts on the trial boot before it counts as unhealthy
HEALTH_POLL = 3.0  # seconds between health checks on the trial boot
REBOOT_DELAY = 3.0  # seconds between "installed" and the reboot (the page shows it)
PROGRESS_POLL = 0.5  # seconds between progress checks of a follower
MAX_HISTORY = 1000  # progress changes kept for followers of one upgrade
FINAL_STATES = ("idle", "installed", "failed", "rebooting")
SLOTS = ("a", "b")
STATE_FILE = "wpbx-slots.json"
EXTLINUX_CONF = "extlinux/extlinux.conf"
KEYS_DIR = Path("/etc/wpbx/upgrade-keys")
BOOT_DIR = Path("/boot/wpbx")
LAYOUT_FILE = "upgrade-layout.json"  # in the data dir: a layout of plain files (host mode, tests)
DOWNGRADE = "La rétrogradation n'est pas prise en charge"
CMDLINE_SLOT = re.compile(r"(?:^|\s)wpbx\.slot=([ab])(?:\s|$)")
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


zlib_error = zlib.error


class BundleError(UserError):
    """The bundle cannot be installed; nothing was written."""


# -- versions and manifests (pure) ----------------------------------------------
VERSION_RE = re.compile(r"^(\d+(?:\.\d+){0,3})(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$")
PRE_RANK = {"dev": 0, "a": 1, "b": 2, "rc": 3, None: 4}  # dev < alpha < beta < rc < final


@dataclass(frozen=True, order=True)
class Version:
    """A PEP 440 version, the subset the firmware uses: 1.2.3, 1.2.3rc1, 1.2.3.post1, 1.2.3.dev4."""

    key: tuple
    text: str = field(compare=False)

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> Version:
    found = VERSION_RE.match(str(text).strip())
    if not found:
        raise BundleError(f"invalid version {text!r}")
    release, pre, pre_n, post, dev = found.groups()
    numbers = [int(n) for n in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    if dev is not None and pre is None and post is None:
        stage = (PRE_RANK["dev"], int(dev))
    else:
        stage = (PRE_RANK[pre], int(pre_n or 0))
    post_key = int(post) if post is not None else -1
    dev_key = int(dev) if dev is not None and (pre is not None or post is not None) else 1 << 30
    return Version((tuple(numbers), stage, post_key, dev_key), str(text).strip())


def check_upgrade(running: str, manifest: dict[str, Any]) -> None:
    """Refuse a bundle that is not newer than ``running`` or needs a newer base."""
    new, current = parse_version(manifest.get("version", "")), parse_version(running)
    if new < current:
        raise BundleError(f"{DOWNGRADE} (downgrade not supported): the bundle is version {new}, "
                          f"this box runs {current}")
    if new == current:
        raise BundleError(f"version {new} is already installed")
    minimum = manifest.get("min_version")
    if minimum and current < parse_version(minimum):
        raise BundleError(f"version {new} upgrades from {minimum} or later; this box runs {current}: "
                          f"install an intermediate version first")


def check_manifest(manifest: Any) -> dict[str, Any]:
    """The manifest's shape, before anything in it is trusted further."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("not a wpbx update bundle (manifest format)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"unsupported bundle format version {manifest.get('format_version')!r}")
    parse_version(manifest.get("version", ""))
    members = manifest.get("members")
    if not isinstance(members, dict) or set(members) != set(MEMBERS):
        raise BundleError(f"the manifest must list exactly {', '.join(MEMBERS)}")
    for name, entry in members.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("size"), int) or entry["size"] < 0
                or not re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256", "")))):
            raise BundleError(f"bad manifest entry for {name}")
    return manifest


def make_manifest(version: str, members: dict[str, tuple[int, str]], built: float,
                  min_version: str | None = None, root_size: int = 0) -> bytes:
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, "version": str(parse_version(version)),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built)),
            "root_size": root_size,
            "members": {name: {"size": size, "sha256": digest} for name, (size, digest) in members.items()}}
    if min_version:
        body["min_version"] = str(parse_version(min_version))
    return json.dumps(body, indent=1, sort_keys=True).encode()


# -- keys and signatures ---------------------------------------------------------
def generate_key() -> tuple[bytes, bytes]:
    """A new (private PEM, public PEM) Ed25519 pair."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def public_key_of(private_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(private_pem: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError("the signing key is not an Ed25519 key")
    return key.sign(data)


def verify_signature(data: bytes, signature: bytes, public_pems: list[bytes]) -> None:
    """Raise BundleError unless one of the trusted keys signed ``data``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not public_pems:
        raise BundleError("no upgrade signing key is installed on this box: cannot verify bundles")
    for pem in public_pems:
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            continue
        if not isinstance(key, Ed25519PublicKey):
            continue
        try:
            key.verify(signature, data)
            return
        except InvalidSignature:
            continue
    raise BundleError("bad signature: the bundle is not signed by a trusted key; nothing was installed")


def load_keys(folder: Path) -> list[bytes]:
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.glob("*.pub")) if p.is_file()]


# -- bundle files ----------------------------------------------------------------
def _sha256(stream: IO[bytes], size: int, progress: Callable[[int], None] | None = None) -> str:
    sha = hashlib.sha256()
    done = 0
    while done < size:
        block = stream.read(min(CHUNK, size - done))
        if not block:
            raise BundleError("the bundle is truncated")
        sha.update(block)
        done += len(block)
        if progress:
            progress(done)
    return sha.hexdigest()


def write_bundle(target: Path, private_pem: bytes, version: str, files: dict[str, Path],
                 min_version: str | None = None, root_size: int = 0, built: float | None = None) -> bytes:
    """Write a signed bundle from ``files`` (one path per member); return its manifest."""
    members = {}
    for name in MEMBERS:
        with open(files[name], "rb") as f:
            size = os.fstat(f.fileno()).st_size
            members[name] = (size, _sha256(f, size))
    manifest = make_manifest(version, members, time.time() if built is None else built, min_version, root_size)
    signature = sign(private_pem, manifest)
    partial = target.with_name(f".{target.name}.partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in ((MANIFEST, manifest), (SIGNATURE, signature)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(blob), 0o644, int(time.time())
            tar.addfile(info, _Bytes(blob))
        for name in MEMBERS:
            tar.add(str(files[name]), arcname=name, recursive=False)
    os.replace(partial, target)
    return manifest


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        block, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return block


def read_header(path: Path) -> tuple[bytes, bytes]:
    """The manifest's bytes and its signature: the bundle's first two members."""
    try:
        with tarfile.open(path, "r:") as tar:
            found: dict[str, bytes] = {}
            for info in tar:
                if info.name not in (MANIFEST, SIGNATURE) or len(found) == 2:
                    break
                if not info.isfile() or info.size > MAX_MANIFEST:
                    raise BundleError(f"bad {info.name} in the bundle")
                found[info.name] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise BundleError(f"not a wpbx update bundle: {err}") from None
    if set(found) != {MANIFEST, SIGNATURE}:
        raise BundleError("not a wpbx update bundle: manifest.json and manifest.sig must come first")
    if len(found[SIGNATURE]) != SIGNATURE_SIZE:
        raise BundleError("bad signature: manifest.sig is not an Ed25519 signature")
    return found[MANIFEST], found[SIGNATURE]


def inspect_bundle(path: Path, keys: list[bytes], running: str) -> dict[str, Any]:
    """Check the signature, the manifest and the version rules (not the payload)."""
    manifest_bytes, signature = read_header(path)
    verify_signature(manifest_bytes, signature, keys)
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        raise BundleError("the bundle's manifest is not JSON") from None
    check_manifest(manifest)
    check_upgrade(running, manifest)
    return manifest


def verify_members(path: Path, manifest: dict[str, Any], progress: Callable[[float], None] | None = None) -> None:
    """Every member's size and SHA-256 against the (already verified) manifest."""
    try:
        _verify_members(path, manifest, progress)
    except (tarfile.TarError, EOFError, zlib_error, OSError) as err:
        raise BundleError(f"the bundle is truncated or damaged: {err}") from None


def _verify_members(path: Path, manifest: dict[str, Any], progress: Callable[[float], None] | None) -> None:
    total = sum(e["size"] for e in manifest["members"].values()) or 1
    counted = 0
    seen = set()
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if info.name in (MANIFEST, SIGNATURE):
                continue
            entry = manifest["members"].get(info.name)
            if entry is None or not info.isfile():
                raise BundleError(f"unexpected member {info.name!r} in the bundle")
            if info.size != entry["size"]:
                raise BundleError(f"{info.name}: size {info.size} differs from the manifest's {entry['size']}")
            base = counted
            digest = _sha256(tar.extractfile(info), info.size,
                             (lambda n, base=base: progress((base + n) / total)) if progress else None)
            if digest != entry["sha256"]:
                raise BundleError(f"{info.name}: checksum mismatch (the bundle is corrupt)")
            counted += info.size
            seen.add(info.name)
    if seen != set(MEMBERS):
        raise BundleError(f"the bundle lacks {', '.join(sorted(set(MEMBERS) - seen))}")


# -- slots (pure state machine) -------------------------------------------------
@dataclass(frozen=True)
class SlotState:
    active: str = "a"            # the confirmed slot
    versions: tuple[tuple[str, str], ...] = ()  # (slot, version) known to be in each slot
    trial: str | None = None     # the slot being tried, if any
    trial_version: str = ""
    tries: int = 0               # trial boots so far (0: not booted yet)
    deadline: float = HEALTH_DEADLINE  # seconds the trial boot has to become healthy
    last_result: str = ""

    def version_of(self, slot: str) -> str:
        return dict(self.versions).get(slot, "")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "SlotState":
        data = json.loads(text)
        data["versions"] = tuple(tuple(v) for v in data.get("versions", ()))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        state = cls(**known)
        if state.active not in SLOTS or (state.trial is not None and state.trial not in SLOTS):
            raise ValueError("bad slot name in the slot state")
        return state


def other_slot(slot: str) -> str:
    return "b" if slot == "a" else "a"


def _with_version(state: SlotState, slot: str, version: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**dict(state.versions), slot: version}.items()))


def begin_trial(state: SlotState, running: str, target: str, version: str,
                deadline: float = HEALTH_DEADLINE) -> SlotState:
    """After the new root is written to ``target``: try it on the next boot."""
    if target == running or target not in SLOTS:
        raise UserError(f"cannot install into slot {target!r}: it is the running slot")
    return replace(state, active=running, trial=target, trial_version=version, tries=0, deadline=deadline,
                   versions=_with_version(state, target, version), last_result="")


def boot_default(state: SlotState) -> str:
    """The slot the boot loader starts by default: the trial only before its first boot."""
    if state.trial is not None and state.tries == 0:
        return state.trial
    return state.active


def on_boot(state: SlotState, booted: str) -> tuple[SlotState, bool]:
    """A boot of ``booted``: (new state, whether this boot is a trial to watch)."""
    if state.trial is None:
        return state, False
    if booted == state.trial and state.tries == 0:
        return replace(state, tries=1), True
    if booted == state.trial:
        # a second start of the trial slot without a confirmation: treat as failed
        return replace(state, trial=None, last_result=_failed(state)), False
    return replace(state, trial=None, tries=0, last_result=_failed(state)), False


def _failed(state: SlotState) -> str:
    return (f"upgrade to {state.trial_version} failed: the new system did not become healthy; "
            f"back on slot {state.active.upper()} ({state.version_of(state.active) or 'previous version'})")


def on_healthy(state: SlotState, booted: str) -> SlotState:
    """wpbxd on the trial boot is up and answering: the trial slot becomes the confirmed one."""
    if state.trial is None or booted != state.trial:
        return state
    return replace(state, active=booted, trial=None, tries=0,
                   last_result=f"upgraded to {state.trial_version} (slot {booted.upper()})")


def render_extlinux(state: SlotState, append: str) -> str:
    lines = [f"DEFAULT slot-{boot_default(state)}", "TIMEOUT 10", "SERIAL 0 19200", ""]
    for slot in SLOTS:
        lines += [f"LABEL slot-{slot}",
                  f"    MENU LABEL wpbx {state.version_of(slot) or '?'} (slot {slot.upper()})",
                  f"    LINUX /{slot}/vmlinuz",
                  f"    INITRD /{slot}/initrd.img",
                  f"    APPEND root=LABEL=wpbx-{slot} wpbx.slot={slot} {append}", ""]
    return "\n".join(lines)


def running_slot(cmdline: str) -> str | None:
    found = CMDLINE_SLOT.search(cmdline)
    return found.group(1) if found else None


# -- the layout on disk ----------------------------------------------------------
APPEND = "rw console=ttyS0,19200n8 net.ifnames=0 panic=10 quiet"


@dataclass(frozen=True)
class Layout:
    boot_dir: Path                 # the boot partition, mounted
    devices: dict[str, Path]       # slot -> block device (or file)
    cmdline: Path = Path("/proc/cmdline")
    keys_dir: Path = KEYS_DIR      # trusted public keys (*.pub)
    simulated: bool = False        # plain files: never reboot

    @classmethod
    def for_daemon(cls, config: DaemonConfig) -> "Layout | None":
        sim = Path(config.data_dir) / LAYOUT_FILE
        if sim.is_file():
            data = json.loads(sim.read_text())
            return cls(boot_dir=Path(data["boot_dir"]), devices={s: Path(data["devices"][s]) for s in SLOTS},
                       cmdline=Path(data["cmdline"]), keys_dir=Path(data.get("keys_dir", KEYS_DIR)),
                       simulated=True)
        if config.mode == "appliance" and (BOOT_DIR / STATE_FILE).exists():
            return cls(boot_dir=BOOT_DIR, devices={s: Path(f"/dev/disk/by-label/wpbx-{s}") for s in SLOTS})
        return None

    def running(self) -> str:
        slot = running_slot(self.cmdline.read_text())
        if slot is None:
            raise UserError("this system was not started from an A/B slot (no wpbx.slot= on the kernel command line)")
        return slot

    def load(self) -> SlotState:
        path = self.boot_dir / STATE_FILE
        try:
            return SlotState.from_json(path.read_text())
        except FileNotFoundError:
            return SlotState()
        except (ValueError, TypeError) as err:
            log.error("upgrade: %s is unreadable (%s); starting from the running slot", path, err)
            return SlotState(active=self.running())

    def save(self, state: SlotState) -> None:
        """The state, then the boot loader's configuration made from it, each atomically."""
        _atomic_write(self.boot_dir / STATE_FILE, state.to_json())
        _atomic_write(self.boot_dir / EXTLINUX_CONF, render_extlinux(state, APPEND))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_slot(bundle: Path, manifest: dict[str, Any], layout: Layout, slot: str,
               progress: Callable[[float], None]) -> None:
    """The root image to the slot's device, its label and size fixed; the kernel to the boot partition."""
    # the real node: udev renames /dev/disk/by-label/* as soon as the new root (another label) lands
    device = layout.devices[slot].resolve()
    root_size = manifest.get("root_size") or 0
    with tarfile.open(bundle, "r:") as tar:
        for info in tar:
            if info.name == ROOT_MEMBER:
                written = 0
                with gzip.GzipFile(fileobj=tar.extractfile(info)) as src, open(device, "r+b") as dst:
                    capacity = dst.seek(0, os.SEEK_END)
                    dst.seek(0)
                    if root_size and root_size > capacity:
                        raise BundleError(f"the new root ({root_size} bytes) does not fit slot "
                                          f"{slot.upper()} ({capacity} bytes)")
                    while block := src.read(CHUNK):
                        if written + len(block) > capacity:
                            raise BundleError(f"the new root does not fit slot {slot.upper()}")
                        dst.write(block)
                        written += len(block)
                        if root_size:
                            progress(min(written / root_size, 1.0))
                    dst.flush()
                    os.fsync(dst.fileno())
            elif info.name in (KERNEL_MEMBER, INITRD_MEMBER):
                folder = layout.boot_dir / slot
                if info.name == KERNEL_MEMBER:  # the old kernel of the slot being replaced goes first
                    shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{info.name}.new"
                with tar.extractfile(info) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                    dst.flush()
                    os.fsync(dst.fileno())
                os.replace(tmp, folder / info.name)
    for argv in (["e2label", str(device), f"wpbx-{slot}"], ["resize2fs", "-f", str(device)]):
        if shutil.which(argv[0]) is None:
            raise UserError(f"{argv[0]} is missing (e2fsprogs)")
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise UserError(f"{argv[0]} on slot {slot.upper()} failed: {result.stderr.strip()[-300:]}")


IDENTITY_FILES = ("etc/ssh/ssh_host_*",)  # the box's own files carried into the new root


def carry_identity(device: Path, source_root: Path = Path("/")) -> int:
    """Copy the box's SSH host keys into the freshly written root (``device``: the real
    block device node), so an upgrade keeps them."""
    mountpoint = Path(tempfile.mkdtemp(prefix="wpbx-slot-"))
    copied = 0
    try:
        result = subprocess.run(["mount", "-t", "ext4", str(device), str(mountpoint)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise UserError(f"cannot mount the new root: {result.stderr.strip()[-300:]}")
        try:
            for pattern in IDENTITY_FILES:
                for path in source_root.glob(pattern):
                    target = mountpoint / path.relative_to(source_root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                    copied += 1
        finally:
            subprocess.run(["umount", str(mountpoint)], capture_output=True)
    finally:
        with contextlib.suppress(OSError):
            mountpoint.rmdir()
    return copied


# -- repositories ----------------------------------------------------------------
def list_repositories(store: Any) -> list[dict[str, str]]:
    return [dict(r) for r in store.all("SELECT name, location FROM upgrade_repositories ORDER BY name")]


def repository_dir(store: Any, name: str) -> Path:
    row = store.one("SELECT location FROM upgrade_repositories WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"no update repository {name!r} (wpbxctl upgrade repo add NAME DIR)")
    location = row["location"]
    if location.startswith("file://"):
        location = location[len("file://"):]
    if re.match(r"^[a-z]+://", location):
        raise UserError(f"repository {name!r} is at {location}: only local directories are supported")
    return Path(location)


def newest_in(folder: Path, keys: list[bytes], running: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest bundle in ``folder`` that verifies and is newer than ``running``."""
    best: tuple[Path, dict[str, Any]] | None = None
    if not folder.is_dir():
        raise UserError(f"the repository directory {folder} does not exist")
    for path in sorted(folder.glob(f"*{BUNDLE_SUFFIX}")):
        try:
            manifest = inspect_bundle(path, keys, running)
        except BundleError as err:
            log.info("upgrade: %s skipped: %s", path.name, err)
            continue
        if best is None or parse_version(manifest["version"]) > parse_version(best[1]["version"]):
            best = (path, manifest)
    return best


# -- service ---------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    state: str = "idle"          # idle | verifying | writing | rebooting | installed | failed
    step: str = ""
    percent: int = 0
    version: str = ""
    message: str = ""
    backup: str = ""             # the backup this upgrade relies on
    serial: int = 0              # bumps on every change, for followers


class UpgradeService:
    name = "upgrade"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.data_dir = Path(ctx.config.data_dir)
        self.layout = Layout.for_daemon(ctx.config)
        self.keys_dir = self.layout.keys_dir if self.layout else KEYS_DIR
        self.progress = Progress()
        self._history: list[dict[str, Any]] = []  # every progress change of the current upgrade
        self._task: asyncio.Task | None = None
        control = ctx.control
        control.register("upgrade.status", self._status)
        control.register("upgrade.check", self._check)
        control.register("upgrade.install", self._install)
        control.register("upgrade.confirm", self._confirm)
        control.register("upgrade.repo.list", lambda args: list_repositories(ctx.store))
        control.register("upgrade.repo.add", self._repo_add)
        control.register("upgrade.repo.del", self._repo_del)
        control.register_stream("upgrade.follow", self._follow)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def apply(self, config: DaemonConfig) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return self._status({})

    def describe(self) -> list[str]:
        if self.layout is None:
            return []
        return [f"upgrade: slot {self.layout.running().upper()} running, boot files in {self.layout.boot_dir}"]

    # -- commands
    def _status(self, args: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"version": __version__, "progress": asdict(self.progress)}
        if self.layout is not None:
            state = self.layout.load()
            result.update(running_slot=self.layout.running(), active_slot=state.active, trial_slot=state.trial,
                          slots=dict(state.versions), last_result=state.last_result)
        return result

    def _set(self, **changes: Any) -> None:
        self.progress = replace(self.progress, serial=self.progress.serial + 1, **changes)
        if self.progress.state == "verifying" and changes.get("percent") == 0 and "version" in changes:
            self._history.clear()  # a new upgrade starts
        if len(self._history) < MAX_HISTORY:
            self._history.append(asdict(self.progress))

    def _check(self, args: dict[str, Any]) -> dict[str, Any]:
        keys = load_keys(self.keys_dir)
        if args.get("file"):
            manifest = inspect_bundle(Path(args["file"]), keys, __version__)
            return {"available": True, "version": manifest["version"], "file": args["file"],
                    "built": manifest.get("built")}
        name = str(args.get("repository") or "")
        found = newest_in(repository_dir(self.ctx.store, name), keys, __version__)
        if found is None:
            return {"available": False, "repository": name, "version": __version__,
                    "message": f"no newer version than {__version__} in {name}"}
        return {"available": True, "repository": name, "version": found[1]["version"],
                "file": str(found[0]), "built": found[1].get("built")}

    def _fresh_backup(self, make: bool) -> str:
        from wpbxd.services.backup import list_backups

        now = self.ctx.clock()
        fresh = [b for b in list_backups(self.data_dir) if now - b.created <= BACKUP_MAX_AGE]
        if fresh:
            return fresh[-1].name
        if not make:
            minutes = int(BACKUP_MAX_AGE // 60)
            raise UserError(f"a backup is required before an upgrade: none was made in the last {minutes} "
                            f"minutes (make one first, or ask for one: wpbxctl upgrade install --backup)")
        return ""

    async def _install(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._task is not None and not self._task.done():
            raise UserError("an upgrade is already running")
        if self.layout is None:
            raise UserError("this system has no A/B root slots: it cannot be upgraded in place")
        keys = load_keys(self.keys_dir)
        if args.get("file"):
            bundle = Path(str(args["file"]))
            if not bundle.is_file():
                raise ValidationError(f"no bundle at {bundle}", "file")
        elif args.get("repository"):
            found = newest_in(repository_dir(self.ctx.store, str(args["repository"])), keys, __version__)
            if found is None:
                raise UserError(f"no newer version than {__version__} in repository {args['repository']}")
            bundle = found[0]
        else:
            raise ValidationError("give a bundle file or a repository name", "file")
        manifest = await asyncio.to_thread(inspect_bundle, bundle, keys, __version__)
        backup = self._fresh_backup(bool(args.get("backup")))
        running = self.layout.running()
        target = other_slot(running)
        self._set(state="verifying", step="checking the bundle", percent=0, version=manifest["version"],
                  message=f"installing {manifest['version']} into slot {target.upper()}", backup=backup)
        self._task = asyncio.create_task(self._run(bundle, manifest, running, target, bool(args.get("reboot", True)),
                                                   bool(args.get("remove_after"))))
        return {"version": manifest["version"], "slot": target, "backup": backup or "(being made)",
                "state": self.progress.state}

    async def _run(self, bundle: Path, manifest: dict[str, Any], running: str, target: str,
                   reboot: bool, remove_after: bool) -> None:
        loop = asyncio.get_running_loop()

        def report(step: str, base: int, span: int) -> Callable[[float], None]:
            last = [-1]

            def callback(fraction: float) -> None:
                percent = base + int(span * fraction)
                if percent != last[0]:
                    last[0] = percent
                    loop.call_soon_threadsafe(lambda: self._set(step=step, percent=percent))
            return callback

        try:
            if not self.progress.backup:
                from wpbxd.services.backup import create_backup

                self._set(state="verifying", step="making a backup first")
                info = await asyncio.to_thread(create_backup, self.ctx.store, self.data_dir)
                self._set(backup=info.name, message=f"{self.progress.message}; backup {info.name} made first")
            self._set(state="verifying", step="verifying checksums", percent=0)
            await asyncio.to_thread(verify_members, bundle, manifest, report("verifying checksums", 0, 30))
            device = self.layout.devices[target].resolve()  # udev renames by-label links while we write
            self._set(state="writing", step=f"writing slot {target.upper()}", percent=30)
            await asyncio.to_thread(write_slot, bundle, manifest, self.layout, target,
                                    report(f"writing slot {target.upper()}", 30, 65))
            if not self.layout.simulated:
                self._set(step="keeping the box's SSH host keys")
                await asyncio.to_thread(carry_identity, device)
            state = self.layout.load()
            state = replace(state, versions=_with_version(state, running, state.version_of(running) or __version__))
            state = begin_trial(state, running, target, manifest["version"])
            await asyncio.to_thread(self.layout.save, state)
            if remove_after:
                bundle.unlink(missing_ok=True)
            log.info("upgrade: %s written to slot %s; next boot tries it", manifest["version"], target)
            if reboot and not self.layout.simulated:
                self._set(state="rebooting", step="rebooting into the new version", percent=100)
                await asyncio.sleep(REBOOT_DELAY)
                subprocess.Popen(["systemctl", "reboot"])
            else:
                self._set(state="installed", step="installed: reboot to start the new version", percent=100)
        except asyncio.CancelledError:
            raise
        except (UserError, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            log.warning("upgrade: %s", err)
            self._set(state="failed", step="failed", message=str(err))
        except OSError as err:
            log.error("upgrade: %s failed: %s", self.progress.step, err)
            self._set(state="failed", step="failed",
                      message=f"{self.progress.step} failed: {err.strerror or err}; the running system is unchanged")
        except Exception as err:
            log.exception("upgrade failed")
            self._set(state="failed", step="failed", message=f"internal error: {type(err).__name__}: {err}")
        finally:
            if remove_after and self.progress.state == "failed":
                bundle.unlink(missing_ok=True)

    def _confirm(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.layout is None:
            raise UserError("this system has no A/B root slots")
        running = self.layout.running()
        state = self.layout.load()
        if state.trial != running:
            return {"confirmed": False, "slot": running, "message": "nothing to confirm: not a trial boot"}
        new = on_healthy(state, running)
        self.layout.save(new)
        log.info("upgrade: %s", new.last_result)
        return {"confirmed": True, "slot": running, "message": new.last_result}

    def _repo_add(self, args: dict[str, Any]) -> dict[str, str]:
        name, location = str(args.get("name") or ""), str(args.get("location") or "").strip()
        if not REPO_NAME.match(name):
            raise ValidationError("a repository name is letters, digits, '.', '_' or '-' (like rel40)", "name")
        if not location:
            raise ValidationError("give the repository's directory", "location")
        with self.ctx.store.transaction():
            self.ctx.store.execute("INSERT OR REPLACE INTO upgrade_repositories(name, location) VALUES (?, ?)",
                                   (name, location))
        return {"name": name, "location": location}

    def _repo_del(self, args: dict[str, Any]) -> dict[str, str]:
        name = str(args.get("name") or "")
        repository_dir(self.ctx.store, name)
        with self.ctx.store.transaction():
            self.ctx.store.execute("DELETE FROM upgrade_repositories WHERE name = ?", (name,))
        return {"name": name}

    async def _follow(self, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every progress change of the current upgrade, from its start, until it ends."""
        if self.progress.state == "idle":
            yield asdict(self.progress)
            return
        sent = 0
        while True:
            while sent < len(self._history):
                event = self._history[sent]
                sent += 1
                yield event
                if event["state"] in FINAL_STATES:
                    return
            if self.progress.state in FINAL_STATES and sent >= len(self._history):
                yield asdict(self.progress)
                return
            await asyncio.sleep(PROGRESS_POLL)


# -- boot-time commands (run by systemd units on the appliance) ----------------
def boot_check(layout: Layout) -> int:
    """Early on every boot: record the boot and point the boot loader at the confirmed slot."""
    booted = layout.running()
    state = layout.load()
    new, trial = on_boot(state, booted)
    if not trial and new.trial is None and new.active != booted and state.trial is None:
        log.warning("upgrade: booted slot %s but %s is the confirmed one", booted, new.active)
    layout.save(new)
    if trial:
        print(f"wpbx: trial boot of {new.trial_version} in slot {booted.upper()}; falls back to "
              f"{new.active.upper()} unless healthy within {new.deadline:.0f} s", flush=True)
    elif new.last_result and new.last_result != state.last_result:
        print(f"wpbx: {new.last_result}", flush=True)
    return 0


def _systemd_show(unit: str) -> dict[str, str]:
    out = subprocess.run(["systemctl", "show", unit, "-p", "ActiveState,NRestarts,Result"],
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def health_watch(layout: Layout, data_dir: Path, clock: Callable[[], float] = time.monotonic) -> int:
    """On a trial boot: confirm once wpbxd is up and answers, else reboot (falls back)."""
    from wpbxd.console import client

    booted = layout.running()
    state = layout.load()
    if state.trial != booted:
        return 0
    deadline = clock() + state.deadline
    reason = f"wpbxd not healthy within {state.deadline:.0f} s"
    while clock() < deadline:
        unit = _systemd_show("wpbxd.service")
        if unit.get("ActiveState") == "active":
            try:
                answer = client.request(data_dir, "upgrade.confirm", {})
            except Exception as err:
                log.info("upgrade: wpbxd not answering yet: %s", err)
            else:
                print(f"wpbx: {answer.get('message', answer)}", flush=True)
                return 0
        if int(unit.get("NRestarts") or 0) >= MAX_START_FAILURES or unit.get("ActiveState") == "failed":
            reason = f"wpbxd failed to start ({unit.get('NRestarts')} restarts, {unit.get('Result')})"
            break
        time.sleep(HEALTH_POLL)
    print(f"wpbx: trial of {state.trial_version} failed: {reason}; rebooting into slot "
          f"{state.active.upper()}", flush=True)
    subprocess.run(["systemctl", "reboot"])
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not argv or argv[0] not in ("boot", "health", "keygen"):
        print("usage: python -m wpbxd.services.upgrade boot|health [DATA_DIR] | keygen PRIVATE PUBLIC",
              file=sys.stderr)
        return 2
    if argv[0] == "keygen":
        private, public = generate_key()
        Path(argv[1]).write_bytes(private)
        os.chmod(argv[1], 0o600)
        Path(argv[2]).write_bytes(public)
        return 0
    data_dir = Path(argv[1] if len(argv) > 1 else "/var/lib/wpbx")
    layout = Layout.for_daemon(DaemonConfig(data_dir=data_dir, mode="appliance"))
    if layout is None:
        print("wpbx: no A/B slot layout on this system", flush=True)
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        return boot_check(layout) if argv[0] == "boot" else health_watch(layout, data_dir)
    return 1


if __name__ == "__main__":
    sys.exit(main())
