"""The heap figures tell a leak from a high-water mark: what they report, and the daemon's commands."""

import gc

from wpbxd.services import heap_stats


class _Node:
    def __init__(self) -> None:
        self.other = self          # a reference cycle: only the cyclic collector frees it


def test_snapshot_reports_resident_memory_heap_and_objects():
    stats = heap_stats.snapshot(types=True, pymalloc_arenas=True)
    assert stats["rss_kb"] > 0
    assert stats["malloc_arenas"] >= 1                     # glibc: at least the main arena
    assert stats["mallinfo"]["uordblks"] > 0
    assert stats["pymalloc"]["arenas_allocated_current"] >= 1
    assert stats["python_blocks"] > 0
    assert stats["types"]["function"] > 0


def test_malloc_info_lists_one_entry_per_arena():
    arenas = heap_stats.malloc_arenas(heap_stats.malloc_info_xml())
    assert arenas and arenas[0]["nr"] == 0
    assert all(a["system"] >= a["free"] >= 0 for a in arenas)


def test_collect_census_counts_the_cyclic_garbage_it_frees():
    gc.collect()
    for _ in range(50):
        _Node()
    census = heap_stats.collect_census()
    assert census["types"].get("_Node") == 50
    assert not gc.garbage                                 # nothing kept back
    assert not any(type(o) is _Node for o in gc.get_objects())


def test_grouped_counts_objects_by_attribute_values():
    keep = [_Node() for _ in range(3)]
    assert heap_stats.grouped("_Node", ["other"]) == {"_Node": 3}
    del keep
    gc.collect()


def test_daemon_answers_heap_stats_and_collect(wpbxd):
    stats = wpbxd.call("heap.stats", {"pymalloc": True})
    assert stats["rss_kb"] > 0 and stats["pymalloc"]["arenas_allocated_current"] >= 1
    census = wpbxd.call("heap.collect")
    assert census["collected"] >= 0 and "types" in census
    assert wpbxd.call("heap.trim") is True
