"""Reads where the daemon's memory is: the kernel's view, glibc's heap, pymalloc, Python objects.

Responsible for: one snapshot (``snapshot()``) of the figures that tell a leak from a
high-water mark — resident memory from ``/proc/self/smaps_rollup``, glibc's
``mallinfo2`` and arena count (``malloc_info``), CPython's allocated blocks and
pymalloc arenas, the number of live objects per type, threads and open files, and
tracemalloc's totals when tracing is on. The ``heap.stats`` control command and
``bench/memory.py`` use it.

It must not change anything it measures (no collection, no trim); where glibc is
absent the C-heap fields are missing.
"""

import ctypes
import gc
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from typing import Any

TOP_TYPES = 25          # object types listed by count


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_LIBC = _libc()


def smaps_rollup() -> dict[str, int]:
    """Kernel figures for the whole process, in kB (Rss, Anonymous, Private_Dirty ...)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


def mallinfo() -> dict[str, int] | None:
    """glibc's heap totals in bytes: ``arena`` (main heap + other arenas' sbrk/mmap heaps),
    ``hblkhd`` (large mmap'ed blocks), ``uordblks`` (in use), ``fordblks`` (free but kept)."""
    fn = getattr(_LIBC, "mallinfo2", None) if _LIBC is not None else None
    if fn is None:
        return None
    fn.restype = _MallInfo2
    info = fn()
    return {name: int(getattr(info, name)) for name, _ in _MallInfo2._fields_}


def malloc_info_xml() -> str | None:
    """glibc's ``malloc_info`` report (XML, one ``<heap>`` per arena)."""
    if _LIBC is None or getattr(_LIBC, "malloc_info", None) is None:
        return None
    open_memstream, fclose, free = _LIBC.open_memstream, _LIBC.fclose, _LIBC.free
    open_memstream.restype = ctypes.c_void_p
    open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
    fclose.argtypes = [ctypes.c_void_p]
    free.argtypes = [ctypes.c_void_p]
    _LIBC.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        return None
    _LIBC.malloc_info(0, stream)
    fclose(stream)
    text = ctypes.string_at(buf, size.value).decode() if buf else ""
    free(ctypes.cast(buf, ctypes.c_void_p))
    return text


def malloc_arenas(xml: str | None) -> list[dict[str, int]]:
    """Per arena: bytes the arena holds from the system and bytes free inside it."""
    if not xml:
        return []
    arenas = []
    for heap in re.finditer(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S):
        body = heap.group(2)
        current = re.search(r'<system type="current" size="(\d+)"/>', body)
        free = re.search(r'<total type="fast" count="\d+" size="(\d+)"/>\s*<total type="rest" count="\d+" '
                         r'size="(\d+)"/>', body)
        arenas.append({"nr": int(heap.group(1)), "system": int(current.group(1)) if current else 0,
                       "free": (int(free.group(1)) + int(free.group(2))) if free else 0})
    return arenas


def pymalloc() -> dict[str, int]:
    """pymalloc's arenas (256 KiB each in 3.11) from ``sys._debugmallocstats``.

    That function writes to the C ``stderr``; it is captured by pointing fd 2 at a
    temporary file for the call (anything another thread logs in that instant is
    copied back to stderr).
    """
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    out: dict[str, int] = {}
    for key, pattern in (("arenas_allocated_total", r"# arenas allocated total\s*=\s*([\d,]+)"),
                         ("arenas_reclaimed", r"# arenas reclaimed\s*=\s*([\d,]+)"),
                         ("arenas_highwater", r"# arenas highwater mark\s*=\s*([\d,]+)"),
                         ("arenas_allocated_current", r"# arenas allocated current\s*=\s*([\d,]+)"),
                         ("arena_bytes", r"\d+ arenas \* \d+ bytes/arena\s*=\s*([\d,]+)"),
                         ("bytes_in_allocated_blocks", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
                         ("bytes_in_available_blocks", r"# bytes in available blocks\s*=\s*([\d,]+)"),
                         ("unused_pools_bytes", r"\d+ unused pools \* \d+ bytes\s*=\s*([\d,]+)")):
        match = re.search(pattern, text)
        if match:
            out[key] = int(match.group(1).replace(",", ""))
    return out


def object_counts(top: int = TOP_TYPES) -> dict[str, int]:
    """Live objects tracked by the garbage collector, by type name, most numerous first."""
    counts = Counter(type(obj).__name__ for obj in gc.get_objects())
    return dict(counts.most_common(top))


def _describe(value: Any) -> str:
    if value is None or isinstance(value, (str, int, float, bool)):
        return str(value)
    if isinstance(value, (list, dict, set, tuple)):
        return f"{type(value).__name__}[{len(value)}]"
    return type(value).__name__


def grouped(type_name: str, attrs: list[str]) -> dict[str, int]:
    """Live objects of one type counted by the values of some attributes (scalars as
    they are, containers as type and length, other values by their type name):
    ``"ist|accepted|Request": 812``, ``"list[9120]|dict[3]": 1``."""
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        if type(obj).__name__ == type_name:
            counts["|".join(_describe(getattr(obj, a, None)) for a in attrs)] += 1
    return dict(counts.most_common(TOP_TYPES))


_trace_baseline: tracemalloc.Snapshot | None = None


def traced_growth(top: int = TOP_TYPES, reset: bool = False) -> list[str] | None:
    """Where memory allocated since the first call (or the last ``reset``) lives, by
    source line, largest first; None when tracemalloc is off (``PYTHONTRACEMALLOC=1``)."""
    global _trace_baseline
    if not tracemalloc.is_tracing():
        return None
    snap = tracemalloc.take_snapshot()
    if _trace_baseline is None or reset:
        _trace_baseline = snap
        return []
    return [str(stat) for stat in snap.compare_to(_trace_baseline, "lineno")[:top]]


def collect_census(top: int = TOP_TYPES) -> dict[str, Any]:
    """Run a full collection and say what it freed: cyclic garbage by type name.

    Unlike ``snapshot`` this changes the heap (it is what a full ``gc.collect()``
    would do anyway); the freed objects are counted before they are released.
    """
    flags = gc.get_debug()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    started = time.perf_counter()
    try:
        found = gc.collect()
        took = time.perf_counter() - started
        counts = Counter(type(obj).__name__ for obj in gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(flags)
    gc.collect()
    return {"collected": found, "ms": round(took * 1000, 1), "types": dict(counts.most_common(top))}


def snapshot(types: bool = False, pymalloc_arenas: bool = False,
             group: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Every figure in one dict (JSON-serialisable)."""
    rollup = smaps_rollup()
    info = mallinfo()
    arenas = malloc_arenas(malloc_info_xml())
    out: dict[str, Any] = {
        "rss_kb": rollup.get("Rss", 0),
        "anonymous_kb": rollup.get("Anonymous", 0),
        "smaps_rollup": rollup,
        "mallinfo": info,
        "malloc_arenas": len(arenas),
        "malloc_arena_system": sum(a["system"] for a in arenas),
        "malloc_arena_free": sum(a["free"] for a in arenas),
        "python_blocks": sys.getallocatedblocks(),
        "gc_objects": len(gc.get_objects()),
        "threads": threading.active_count(),
        "threads_named": sorted(t.name for t in threading.enumerate()),
    }
    try:
        out["open_fds"] = len(os.listdir("/proc/self/fd"))
    except OSError:
        pass
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        out["tracemalloc"] = {"current": current, "peak": peak}
    if types:
        out["types"] = object_counts()
    if pymalloc_arenas:
        out["pymalloc"] = pymalloc()
    if group:
        out["grouped"] = {name: grouped(name, attrs) for name, attrs in group.items()}
    return out
