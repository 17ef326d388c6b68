"""Where the box keeps its data files (voicemail, recordings, faxes, CDR, sounds, backups).

Every area lives under ``DATA/storage/<area>``. ``DATA/storage`` is a symlink the
storage service points either at the USB key's mounted partition or at the
internal fallback ``DATA/internal``; writers always open paths through
``area_path`` and never cache the resolved target, so a switch takes effect for
the next file. This module only names places and creates them; it mounts nothing.

Writers that must never leave a half file behind (voicemail, recordings, faxes)
use ``write_file``: the file is written as ``NAME.partial`` in the place the areas
pointed at when the write began, synced, and renamed only if that place is still
the storage; if the key goes away meanwhile, the write fails with
``AreaWriteError`` and the partial file is dropped.
"""

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from wpbxd.errors import UserError

AREAS = ("voicemail", "recordings", "faxes", "cdr", "sounds", "backups")
STORAGE_LINK = "storage"
INTERNAL_DIR = "internal"
PARTIAL_SUFFIX = ".partial"
WIPE_MARKER = ".wipe-storage"  # a factory reset happened while the USB key was not mounted


class AreaWriteError(UserError):
    """A file could not be written completely; nothing of it was kept."""


def storage_root(data_dir: Path) -> Path:
    return Path(data_dir) / STORAGE_LINK


def internal_root(data_dir: Path) -> Path:
    return Path(data_dir) / INTERNAL_DIR


def area_path(data_dir: Path, area: str) -> Path:
    if area not in AREAS:
        raise ValueError(f"unknown data area {area!r}")
    return storage_root(data_dir) / area


def ensure_areas(data_dir: Path) -> Path:
    """Create the internal areas and the ``storage`` link when missing; return the root."""
    internal = internal_root(data_dir)
    for area in AREAS:
        (internal / area).mkdir(parents=True, exist_ok=True)
    link = storage_root(data_dir)
    if not link.exists() and not link.is_symlink():
        os.symlink(INTERNAL_DIR, link)
    elif link.is_symlink() and not link.exists():
        point_storage_at(data_dir, internal)  # dangling: the key went away while we were down
    for area in AREAS:
        (link / area).mkdir(parents=True, exist_ok=True)
    return link


def point_storage_at(data_dir: Path, target: Path) -> None:
    """Atomically re-point ``DATA/storage`` (rename over the old link)."""
    link = storage_root(data_dir)
    tmp = link.with_name(f".{STORAGE_LINK}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    rel = INTERNAL_DIR if Path(target) == internal_root(data_dir) else str(target)
    os.symlink(rel, tmp)
    os.replace(tmp, link)


def wipe_areas(root: Path, keep: tuple[str, ...] = ("backups",)) -> int:
    """Delete everything inside the areas under ``root`` except ``keep``; count the entries."""
    removed = 0
    for area in AREAS:
        folder = Path(root) / area
        if area in keep or not folder.is_dir():
            continue
        for child in folder.iterdir():
            removed += 1
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    return removed


def write_file(data_dir: Path, area: str, relpath: str, chunks: Iterable[bytes]) -> Path:
    """Write a whole file into an area, or nothing (see the module docstring)."""
    area_path(data_dir, area)
    link = storage_root(data_dir)
    root = os.path.realpath(link)
    final = Path(root) / area / relpath
    if ".." in Path(relpath).parts or Path(relpath).is_absolute():
        raise ValueError(f"bad relative path {relpath!r}")
    tmp = final.with_name(final.name + PARTIAL_SUFFIX)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if os.path.realpath(link) != root:
            raise OSError(5, "the storage changed during the write")
        os.replace(tmp, final)
        folder = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)  # the rename itself survives a pulled key
        finally:
            os.close(folder)
    except OSError as err:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise AreaWriteError(f"{area}/{relpath} not saved: {err.strerror or err}") from None
    return final
