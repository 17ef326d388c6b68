"""The fax receiver (``wpbxd.telephony.media.fax``) against a second spandsp terminal.

Seed "Fax vers e-mail": the PBX answers a fax and keeps what it received. Two
spandsp terminals are wired back to back in-process, 20 ms at a time, exactly
as ``MediaChannel`` drives a frame processor: a calling one sending a one-page
TIFF (written here: bilevel, 1728 pixels wide, 204 x 98 dpi, the T.4 standard
resolution) and our ``FaxReceiver``. No network, no clock: only samples.
"""

import re
import struct
import time
from pathlib import Path

import pytest

from wpbxd.hw import areas
from wpbxd.telephony.media import fax

WIDTH = 1728                     # pixels, T.4 A4 width
ROWS = 1143                      # A4 at standard resolution (3.85 lines/mm)
MAX_TICKS = 60 * 50              # 60 s of audio bounds a stuck session (samples, not wall time)


def need_spandsp() -> None:
    if not fax.available():
        pytest.skip("libspandsp2 (Debian) is not installed: fax reception not available")


def write_fax_tiff(path: Path, pages: int = 1) -> Path:
    """A bilevel uncompressed TIFF of ``pages`` pages: black bars and a frame on white."""
    row_bytes = WIDTH // 8
    image = bytearray()
    for y in range(ROWS):
        row = bytearray(row_bytes)
        if y < 8 or y >= ROWS - 8 or (y // 40) % 5 == 0:
            row[:] = b"\xff" * row_bytes
        else:
            row[0] = row[-1] = 0xff
            if (y // 10) % 3 == 0:
                row[20:60] = b"\xf0" * 40
        image += row
    entries_at = []
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))
    for page in range(pages):
        strip = len(out)
        out += image
        if len(out) % 2:
            out += b"\x00"
        res = len(out)
        out += struct.pack("<IIII", 204, 1, 98, 1)             # XResolution, YResolution (rationals)
        tags = [(256, 4, 1, WIDTH), (257, 4, 1, ROWS), (258, 3, 1, 1), (259, 3, 1, 1), (262, 3, 1, 0),
                (266, 3, 1, 1), (273, 4, 1, strip), (274, 3, 1, 1), (277, 3, 1, 1), (278, 4, 1, ROWS),
                (279, 4, 1, len(image)), (282, 5, 1, res), (283, 5, 1, res + 8), (284, 3, 1, 1),
                (296, 3, 1, 2), (297, 3, 2, page | (pages << 16))]
        ifd = len(out)
        entries_at.append(ifd)
        out += struct.pack("<H", len(tags))
        for tag, kind, count, value in tags:
            out += struct.pack("<HHII", tag, kind, count, value)
        out += struct.pack("<I", 0)
    struct.pack_into("<I", out, 4, entries_at[0])
    for here, following in zip(entries_at, entries_at[1:], strict=False):
        count = struct.unpack_from("<H", out, here)[0]
        struct.pack_into("<I", out, here + 2 + 12 * count, following)
    path.write_bytes(bytes(out))
    return path


def pdf_pages(data: bytes) -> int:
    """Page objects of a PDF (``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))


def exchange(sender: fax.FaxTerminal, receiver: fax.FaxTerminal) -> int:
    """Run both terminals on each other's audio until both reach phase E; ticks used."""
    to_receiver = bytes(2 * fax.FRAME_SAMPLES)
    to_sender = bytes(2 * fax.FRAME_SAMPLES)
    for tick in range(MAX_TICKS):
        to_receiver, to_sender = sender.process(to_sender), receiver.process(to_receiver)
        if sender.finished and receiver.finished:
            return tick
    raise AssertionError(f"no phase E after {MAX_TICKS} ticks: sender {sender.completion},"
                         f" receiver {receiver.completion}")


def test_a_one_page_fax_arrives_in_the_receivers_tiff(tmp_path):
    need_spandsp()
    source = write_fax_tiff(tmp_path / "page.tif")
    target = tmp_path / "received.tif"
    sender = fax.FaxTerminal(calling=True, ident="+33 1 40 00 00 00")
    sender.set_tx_file(source)
    receiver = fax.FaxReceiver(target, ident="wpbx")
    try:
        ticks = exchange(sender, receiver)
        sent, got = sender.result(), receiver.result()
    finally:
        sender.close()
        receiver.close()
    assert sent.ok, sent
    assert got.ok and got.pages == 1, got
    assert got.remote_ident == "+33 1 40 00 00 00"
    assert fax.count_tiff_pages(target.read_bytes()) == 1
    assert ticks > 0


def test_a_two_page_fax_keeps_both_pages(tmp_path):
    need_spandsp()
    source = write_fax_tiff(tmp_path / "pages.tif", pages=2)
    target = tmp_path / "received.tif"
    sender = fax.FaxTerminal(calling=True)
    sender.set_tx_file(source)
    receiver = fax.FaxReceiver(target)
    try:
        exchange(sender, receiver)
        got = receiver.result()
    finally:
        sender.close()
        receiver.close()
    assert got.ok and got.pages == 2, got
    assert fax.count_tiff_pages(target.read_bytes()) == 2


def test_silence_is_no_fax_and_ends_with_a_t30_error(tmp_path):
    """A caller that never speaks T.30: the receiver gives up (T0/T1) with zero pages."""
    need_spandsp()
    receiver = fax.FaxReceiver(tmp_path / "nothing.tif")
    try:
        for _ in range(MAX_TICKS):
            receiver.process(bytes(2 * fax.FRAME_SAMPLES))
            if receiver.finished:
                break
        got = receiver.result()
    finally:
        receiver.close()
    assert receiver.completion is not None and not got.ok and got.pages == 0, got


def test_a_session_cut_short_reports_why(tmp_path):
    need_spandsp()
    receiver = fax.FaxReceiver(tmp_path / "cut.tif")
    try:
        receiver.process(None)
        got = receiver.result("the caller hung up")
    finally:
        receiver.close()
    assert got.completion is None and got.reason == "the caller hung up" and not got.ok


def test_tiff_page_count_reads_ifd_chains(tmp_path):
    assert fax.count_tiff_pages(write_fax_tiff(tmp_path / "three.tif", pages=3).read_bytes()) == 3
    assert fax.count_tiff_pages(b"%PDF-1.4") == 0


def test_a_session_cut_after_the_first_page_keeps_that_page_and_says_so(tmp_path):
    """The caller hangs up during page 2: page 1 is kept (and would be mailed, marked
    incomplete); the storage gets a whole file, never a ``.partial`` one."""
    need_spandsp()
    source = write_fax_tiff(tmp_path / "pages.tif", pages=2)
    target = tmp_path / "received.tif"
    sender = fax.FaxTerminal(calling=True)
    sender.set_tx_file(source)
    receiver = fax.FaxReceiver(target)
    to_receiver = to_sender = bytes(2 * fax.FRAME_SAMPLES)
    try:
        for _ in range(MAX_TICKS):
            to_receiver, to_sender = sender.process(to_sender), receiver.process(to_receiver)
            if receiver.result().pages == 1:
                break
        for _ in range(100):                     # 2 s into page 2
            to_receiver, to_sender = sender.process(to_sender), receiver.process(to_receiver)
        got = receiver.result("the caller hung up")
    finally:
        sender.close()
        receiver.close()
    assert got.pages == 1 and got.completion is None and not got.ok, got
    data_dir = tmp_path / "data"
    areas.ensure_areas(data_dir)
    stored = fax.store_fax(data_dir, target, got, "0155555555", time.time())
    assert stored is not None and stored.pages == 1 and not stored.complete
    assert fax.count_tiff_pages(stored.tiff.read_bytes()) == 1
    subject, body = stored.mail()
    assert "1 page" in subject and "broke off (the caller hung up)" in body
    kept = list((areas.area_path(data_dir, "faxes") / "received").iterdir())
    assert not [p for p in kept if p.name.endswith(areas.PARTIAL_SUFFIX)]


def test_nothing_is_stored_for_zero_pages(tmp_path):
    need_spandsp()
    receiver = fax.FaxReceiver(tmp_path / "empty.tif")
    receiver.process(None)
    got = receiver.result("the caller hung up")
    receiver.close()
    data_dir = tmp_path / "data"
    areas.ensure_areas(data_dir)
    assert fax.store_fax(data_dir, tmp_path / "empty.tif", got, "0155555555", time.time()) is None
    assert list((areas.area_path(data_dir, "faxes")).iterdir()) == []
