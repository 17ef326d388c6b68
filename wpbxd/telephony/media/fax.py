"""Fax reception: a T.30 receiver (spandsp) fed 20 ms of audio at a time.

Responsible for:
  - loading Debian's ``libspandsp.so.2`` through cffi in ABI mode (only the few
    declarations used below; no headers at build time). A box without it gets
    ``FaxUnavailable`` with a message an admin understands, never a crash;
  - ``FaxReceiver``: one answering fax terminal (V.21 signalling, V.27ter/V.29
    image modems, T.30 phases A-E) writing the pages into a TIFF file. It is a
    frame processor for ``MediaChannel.set_processor``: each tick the 160 samples
    heard go in and the 160 samples to send come out;
  - ``FaxResult``: pages received and the T.30 completion (``ok`` only when the
    far end ended the session normally with at least one page).

Rule 1: sans-IO apart from the TIFF file spandsp itself writes (a temporary
name chosen by the caller; the caller renames it when the result is good).
Rule 2: the modems and the T.30 state machine are spandsp's; nothing of them
is re-implemented here.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wpbxd.errors import UserError

log = logging.getLogger(__name__)

LIBRARY = "libspandsp.so.2"
FRAME_SAMPLES = 160                 # 20 ms at 8 kHz
T30_ERR_OK = 0                      # spandsp t30.h: phase E completion "OK"
SPAN_LOG_NONE = 0                   # spandsp logging.h
# T30_SUPPORT_V27TER | T30_SUPPORT_V29 (t30.h): 9600 bit/s at most. V.17 (14400) is
# left out on purpose: over G.711 with jitter it fails far more often than V.29.
SUPPORTED_MODEMS = 0x01 | 0x02
# A tick with nothing heard is usually a late packet, not lost time: inserting
# silence would cut the modem's carrier. Up to this many such ticks in a row are
# skipped; beyond, the line really went quiet and time passes for T.30's timers.
GAP_TICKS = 10                      # 200 ms

_CDEF = """
typedef struct fax_state_s fax_state_t;
typedef struct t30_state_s t30_state_t;
typedef struct logging_state_s logging_state_t;
typedef void (t30_phase_e_handler_t)(t30_state_t *s, void *user_data, int completion_code);
typedef struct {
    int bit_rate; int error_correcting_mode; int pages_tx; int pages_rx; int pages_in_file;
    int x_resolution; int y_resolution; int width; int length; int image_size; int encoding;
    int bad_rows; int longest_bad_row_run; int error_correcting_mode_retries; int current_status;
} t30_stats_t;
fax_state_t *fax_init(fax_state_t *s, int calling_party);
int fax_free(fax_state_t *s);
int fax_rx(fax_state_t *s, int16_t *amp, int len);
int fax_rx_fillin(fax_state_t *s, int len);
int fax_tx(fax_state_t *s, int16_t *amp, int max_len);
void fax_set_transmit_on_idle(fax_state_t *s, int transmit_on_idle);
t30_state_t *fax_get_t30_state(fax_state_t *s);
logging_state_t *fax_get_logging_state(fax_state_t *s);
logging_state_t *t30_get_logging_state(t30_state_t *s);
int span_log_set_level(logging_state_t *s, int level);
void t30_set_rx_file(t30_state_t *s, const char *file, int stop_page);
void t30_set_tx_file(t30_state_t *s, const char *file, int start_page, int stop_page);
int t30_set_tx_ident(t30_state_t *s, const char *id);
const char *t30_get_rx_ident(t30_state_t *s);
int t30_set_ecm_capability(t30_state_t *s, int enabled);
int t30_set_supported_modems(t30_state_t *s, int supported_modems);
void t30_set_phase_e_handler(t30_state_t *s, t30_phase_e_handler_t *handler, void *user_data);
void t30_get_transfer_statistics(t30_state_t *s, t30_stats_t *t);
const char *t30_completion_code_to_str(int result);
void t30_terminate(t30_state_t *s);
"""


class FaxUnavailable(UserError):
    """This box cannot receive faxes (the message says why)."""


_lock = threading.Lock()
_loaded: tuple[Any, Any] | None = None


def spandsp() -> tuple[Any, Any]:
    """(ffi, lib) for libspandsp; raises ``FaxUnavailable`` when it cannot be loaded."""
    global _loaded
    with _lock:
        if _loaded is None:
            try:
                import cffi
            except ImportError:
                raise FaxUnavailable("fax reception not available (cffi missing)") from None
            ffi = cffi.FFI()
            ffi.cdef(_CDEF)
            try:
                lib = ffi.dlopen(LIBRARY)
            except OSError:
                raise FaxUnavailable("fax reception not available (libspandsp missing)") from None
            _loaded = (ffi, lib)
        return _loaded


def available() -> bool:
    try:
        spandsp()
    except FaxUnavailable:
        return False
    return True


@dataclass(frozen=True)
class FaxResult:
    pages: int
    completion: int | None          # T.30 phase E code; None: the session never ended (hangup, timeout)
    reason: str                     # spandsp's words for ``completion``, or why it never ended
    remote_ident: str = ""
    bit_rate: int = 0

    @property
    def ok(self) -> bool:
        return self.completion == T30_ERR_OK and self.pages > 0


class FaxTerminal:
    """One spandsp fax terminal on audio. ``calling=False``: the answering side (the PBX)."""

    def __init__(self, calling: bool, ident: str = "") -> None:
        ffi, lib = spandsp()
        self._ffi, self._lib = ffi, lib
        state = lib.fax_init(ffi.NULL, 1 if calling else 0)
        if state == ffi.NULL:
            raise FaxUnavailable("fax reception not available (spandsp could not start a fax terminal)")
        self._state = state
        self._t30 = lib.fax_get_t30_state(state)
        lib.span_log_set_level(lib.fax_get_logging_state(state), SPAN_LOG_NONE)
        lib.span_log_set_level(lib.t30_get_logging_state(self._t30), SPAN_LOG_NONE)
        lib.fax_set_transmit_on_idle(state, 1)      # always a full frame out (silence when idle)
        lib.t30_set_supported_modems(self._t30, SUPPORTED_MODEMS)
        lib.t30_set_ecm_capability(self._t30, 1)
        if ident:
            lib.t30_set_tx_ident(self._t30, ident.encode("ascii", "replace")[:20])
        self.completion: int | None = None
        self.on_finished: Callable[[], object] | None = None    # called once, at phase E
        self._on_phase_e = ffi.callback("t30_phase_e_handler_t *", self._phase_e)
        lib.t30_set_phase_e_handler(self._t30, self._on_phase_e, ffi.NULL)
        self._in = ffi.new("int16_t[]", FRAME_SAMPLES)
        self._out = ffi.new("int16_t[]", FRAME_SAMPLES)
        self._stats = ffi.new("t30_stats_t *")
        self._closed = False
        self._gap = 0

    def _phase_e(self, _t30: Any, _user_data: Any, completion: int) -> None:
        self.completion = completion
        if self.on_finished is not None:
            try:
                self.on_finished()
            except Exception:       # never let an exception unwind into spandsp's C frames
                log.exception("fax: phase E handler failed")

    @property
    def finished(self) -> bool:
        """The T.30 session reached phase E (done, well or not)."""
        return self.completion is not None

    def set_rx_file(self, path: str | Path) -> None:
        self._lib.t30_set_rx_file(self._t30, str(path).encode(), -1)

    def set_tx_file(self, path: str | Path) -> None:
        self._lib.t30_set_tx_file(self._t30, str(path).encode(), -1, -1)

    def hear(self, heard: bytes | None) -> None:
        """Feed 20 ms heard (16-bit PCM), or ``None`` when nothing came this tick (see
        ``GAP_TICKS``: a short gap is skipped, a long one counts as time passing)."""
        if self._closed:
            return
        if heard is None:
            self._gap += 1
            if self._gap > GAP_TICKS:
                self._lib.fax_rx_fillin(self._state, FRAME_SAMPLES)
            return
        self._gap = 0
        count = min(len(heard) // 2, FRAME_SAMPLES)
        self._ffi.memmove(self._in, heard, 2 * count)
        self._lib.fax_rx(self._state, self._in, count)

    def say(self) -> bytes:
        """The next 20 ms to send (16-bit PCM)."""
        if self._closed:
            return bytes(2 * FRAME_SAMPLES)
        made = self._lib.fax_tx(self._state, self._out, FRAME_SAMPLES)
        out = bytes(self._ffi.buffer(self._out, 2 * max(0, made)))
        return out + bytes(2 * FRAME_SAMPLES - len(out))

    def process(self, heard: bytes | None) -> bytes:
        """One tick as a ``MediaChannel`` frame processor: ``hear`` then ``say``."""
        self.hear(heard)
        return self.say()

    __call__ = process

    def result(self, why_unfinished: str = "the call ended before the fax did") -> FaxResult:
        if self._closed:
            raise RuntimeError("fax terminal already closed")
        self._lib.t30_get_transfer_statistics(self._t30, self._stats)
        stats = self._stats
        ident = self._lib.t30_get_rx_ident(self._t30)
        remote = self._ffi.string(ident).decode("ascii", "replace").strip() if ident != self._ffi.NULL else ""
        if self.completion is None:
            reason = why_unfinished
        else:
            text = self._lib.t30_completion_code_to_str(self.completion)
            reason = self._ffi.string(text).decode("ascii", "replace") if text != self._ffi.NULL else "?"
        return FaxResult(max(stats.pages_rx, stats.pages_tx), self.completion, reason, remote, stats.bit_rate)

    def close(self) -> None:
        """End the session (if still running) and free spandsp's state; the TIFF is complete after."""
        if self._closed:
            return
        self._closed = True
        if self.completion is None:
            self._lib.t30_terminate(self._t30)
        self._lib.fax_free(self._state)


class FaxReceiver(FaxTerminal):
    """The PBX answering a fax: pages go to ``path`` (a TIFF spandsp writes)."""

    def __init__(self, path: str | Path, ident: str = "") -> None:
        super().__init__(calling=False, ident=ident)
        self.path = Path(path)
        self.set_rx_file(self.path)


def count_tiff_pages(data: bytes) -> int:
    """Pages (IFDs) of a TIFF file's bytes; 0 when it is not a TIFF."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        return 0
    order = "little" if data[:2] == b"II" else "big"
    offset = int.from_bytes(data[4:8], order)
    pages = 0
    seen: set[int] = set()
    while 0 < offset < len(data) - 2 and offset not in seen:
        seen.add(offset)
        pages += 1
        entries = int.from_bytes(data[offset:offset + 2], order)
        link = offset + 2 + 12 * entries
        if link + 4 > len(data):
            break
        offset = int.from_bytes(data[link:link + 4], order)
    return pages


# -- keeping and mailing what arrived ------------------------------------------------------
FAX_AREA = "faxes"
RECEIVED_DIR = "received"
TIFF2PDF = "tiff2pdf"               # Debian libtiff-tools; without it only the TIFF is kept
TIFF2PDF_TIMEOUT = 60               # seconds


@dataclass(frozen=True)
class StoredFax:
    tiff: Path
    pdf: Path | None
    pages: int
    caller: str
    remote_ident: str
    time: float
    complete: bool                  # False: the session broke after some pages (they are kept)
    reason: str

    def attachment(self) -> tuple[str, bytes, str]:
        """(file name, content, MIME type): the PDF when there is one, else the TIFF."""
        if self.pdf is not None:
            return self.pdf.name, self.pdf.read_bytes(), "application/pdf"
        return self.tiff.name, self.tiff.read_bytes(), "image/tiff"

    def mail(self, tz: Any = None) -> tuple[str, str]:
        """Subject and body of the mail announcing this fax."""
        from datetime import datetime
        stamp = datetime.fromtimestamp(self.time, tz).strftime("%Y-%m-%d %H:%M")
        sender = self.caller or "unknown"
        if self.remote_ident and self.remote_ident != self.caller:
            sender += f" ({self.remote_ident})"
        plural = "s" if self.pages != 1 else ""
        subject = f"Fax from {sender}, {self.pages} page{plural}"
        body = f"A fax arrived from {sender} at {stamp}: {self.pages} page{plural}.\n"
        if not self.complete:
            body += f"The transmission broke off ({self.reason}); the pages received are attached.\n"
        body += "\nThe fax is attached.\n"
        return subject, body


def store_fax(data_dir: Path, received: Path, result: FaxResult, caller: str, when: float) -> StoredFax | None:
    """Keep the pages in ``received`` (spandsp's TIFF, closed) in the fax area as
    ``received/<time>-<caller>.tif`` and, when ``tiff2pdf`` exists, ``.pdf``.
    ``None`` when no page arrived. Blocking: run it in an executor.
    Raises ``AreaWriteError`` (nothing kept) when the storage fails."""
    import re
    import shutil
    import subprocess
    import time as clock

    from wpbxd.hw import areas

    data = received.read_bytes() if received.exists() else b""
    pages = count_tiff_pages(data)
    if pages == 0:
        return None
    who = re.sub(r"[^0-9A-Za-z+]", "", caller)[:32] or "unknown"
    stem = f"{clock.strftime('%Y%m%d-%H%M%S', clock.localtime(when))}-{who}"
    folder = areas.area_path(data_dir, FAX_AREA) / RECEIVED_DIR
    name, n = stem, 1
    while (folder / f"{name}.tif").exists():
        n += 1
        name = f"{stem}-{n}"
    pdf_bytes = b""
    if shutil.which(TIFF2PDF):
        pdf_tmp = received.with_suffix(".pdf")
        try:
            subprocess.run([TIFF2PDF, "-o", str(pdf_tmp), str(received)], check=True, timeout=TIFF2PDF_TIMEOUT,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            pdf_bytes = pdf_tmp.read_bytes()
        except (OSError, subprocess.SubprocessError):
            pdf_bytes = b""         # the TIFF alone is still the fax
    tiff = areas.write_file(data_dir, FAX_AREA, f"{RECEIVED_DIR}/{name}.tif", [data])
    pdf = areas.write_file(data_dir, FAX_AREA, f"{RECEIVED_DIR}/{name}.pdf", [pdf_bytes]) if pdf_bytes else None
    return StoredFax(tiff, pdf, pages, caller, result.remote_ident, when, result.ok, result.reason)
