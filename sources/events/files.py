"""Event-log files: which files are event logs, and how each is made readable by DuckDB.

Plain UTF-8 files are read in place by DuckDB. Everything else (gzip, invalid UTF-8, names that
are not UTF-8 or that DuckDB would take as a glob, files over a cap) is streamed by Python into a
plain copy in a scratch folder, in bounded memory: one chunk and one capped line at a time.
Lines the copy cannot carry as they are become sentinel lines (`SENTINEL reason TAB text`) that
the SQL reader turns into quarantine rows, so line numbers stay those of the original file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SENTINEL = "\x1e"  # marks a line the Python pre-pass already judged invalid (normalized files only)
# `app.jsonl`, and what logrotate makes of it: numbered (`app.jsonl.1`) or dated
# (`app.jsonl-20261121`, hourly `-2026112113`) names, each optionally gzip-compressed (`.gz`).
ROTATED = r"(?:\.\d+|-\d{8}(?:\d{2})?)?(?:\.gz)?"
EVENT_FILE_NAME = re.compile(r".*\.jsonl" + ROTATED)
# OpenTelemetry trace batches, one OTLP JSON request per line (docs/opentelemetry.md): what
# `costwatch collect` writes and the Collector's file exporter, with its own rotation's
# timestamp (`traces.otlp-2026-11-21T10-00-00.000.jsonl`) or logrotate's
OTLP_FILE_NAME = re.compile(
    r".*\.otlp(?:-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d{3})?)?\.jsonl" + ROTATED
)
CHUNK_BYTES = 2**20
QUARANTINED_PREFIX_BYTES = 1024  # how much of a line over the cap the quarantine row keeps
GLOB_CHARS = frozenset("*?[]{}")
# read_text holds whole files in memory, outside DuckDB's memory limit: files of at most this many
# bytes are read together (a bigger file alone)
LINES_BATCH_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ReadLimits:
    """What the reader accepts. Every value is documented in the README (Configuration)."""

    first_day: dt.date = dt.date(1970, 1, 1)  # the first day partition (COSTWATCH_START_DATE)
    # how far after the ingestion time a `ts` may lie (clocks drift): COSTWATCH_CLOCK_SKEW_MINUTES
    max_clock_skew: dt.timedelta = dt.timedelta(minutes=60)
    # decompressed bytes read from one file; the rest is one quarantined line (file_too_large)
    max_file_bytes: int = 256 * 2**20
    # bytes of one line; a longer line is quarantined (line_too_long) with its first KiB
    max_line_bytes: int = 2**20


def is_event_file(name: str) -> bool:
    return EVENT_FILE_NAME.fullmatch(name) is not None or is_otlp_file(name)


def is_otlp_file(name: str) -> bool:
    return OTLP_FILE_NAME.fullmatch(name) is not None


def is_gzip(name: str) -> bool:
    return name.endswith(".gz")


@dataclass(frozen=True)
class EventFile:
    """A file under the events root. `source_file` is its path relative to the root (posix),
    with bytes that are not UTF-8 written as `\\xNN`."""

    path: Path
    source_file: str
    size_bytes: int
    mtime_ns: int
    outside_root: bool = False  # a symbolic link that leads out of the events root

    @property
    def is_otlp(self) -> bool:
        return is_otlp_file(self.path.name)

    @property
    def mtime_day(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.mtime_ns / 1e9, tz=dt.UTC).date()

    @property
    def duckdb_can_open(self) -> bool:
        """DuckDB takes paths as UTF-8 globs: other names are copied before reading."""
        text = str(self.path)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return not GLOB_CHARS.intersection(text)


def display_name(rel: str) -> str:
    """A relative path as text: bytes that are not UTF-8 (surrogate-escaped) become `\\xNN`."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def discover_files(root: Path) -> list[EventFile]:
    """Every event-log file under `root`, at any depth, sorted by relative path."""
    root = Path(root)
    if not root.exists():
        return []
    found: list[EventFile] = []
    real_root = root.resolve()
    for dirpath, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            if not is_event_file(name):
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue  # vanished between listing and stat; the next run sees the final state
            rel = display_name(path.relative_to(root).as_posix())
            outside = not path.resolve().is_relative_to(real_root)
            found.append(EventFile(path, rel, st.st_size, st.st_mtime_ns, outside))
    return sorted(found, key=lambda f: f.source_file)


class FileProblem(Exception):
    """A problem of the whole file, from the point where it was met: one quarantined line."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def _plain_chunks(fh) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK_BYTES):
        yield chunk


def _gzip_chunks(fh) -> Iterator[bytes]:
    """Decompressed chunks of concatenated gzip members, at most CHUNK_BYTES each, so a small
    file that expands enormously never sits in memory whole."""
    data = fh.read(max(CHUNK_BYTES, 2))  # the magic number whole, whatever the chunk size
    if data[:2] != b"\x1f\x8b":
        raise FileProblem("unreadable_file", "not a gzip stream")
    d = zlib.decompressobj(wbits=47)
    first_member = True
    while True:
        try:
            out = d.decompress(data, CHUNK_BYTES)
        except zlib.error as exc:
            if first_member:
                raise FileProblem("unreadable_file", f"corrupt gzip ({exc})") from None
            raise FileProblem("truncated_gzip") from None  # garbage after a complete member
        if out:
            yield out
        data = d.unconsumed_tail
        if d.eof:
            data = d.unused_data or fh.read(CHUNK_BYTES)
            if not data:
                return
            d, first_member = zlib.decompressobj(wbits=47), False
        elif not data:
            data = fh.read(CHUNK_BYTES)
            if not data:
                break
    try:
        rest = d.flush()
    except zlib.error:
        rest = b""
    if rest:
        yield rest
    if not d.eof:
        raise FileProblem("truncated_gzip")


def _chunks(f: EventFile) -> Iterator[bytes]:
    """The file's (decompressed) bytes in chunks; FileProblem for what stops the reading."""
    if f.outside_root:
        # Configured folders confine what is read: a link out of the events folder is reported,
        # never followed (it could expose any file the run can read).
        raise FileProblem("unreadable_file", "a link that leads outside the events folder")
    try:
        fh = f.path.open("rb")
    except OSError as exc:
        raise FileProblem("unreadable_file", exc.strerror or str(exc)) from None
    with fh:
        try:
            yield from (_gzip_chunks(fh) if is_gzip(f.source_file) else _plain_chunks(fh))
        except OSError as exc:
            raise FileProblem("unreadable_file", exc.strerror or str(exc)) from None


def sentinel(reason: str, text: str) -> str:
    return f"{SENTINEL}{reason}\t{text}"


def _line_text(raw: bytes) -> str:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return sentinel("invalid_utf8", raw.decode("utf-8", "backslashreplace"))
    return sentinel("invalid_json", line) if line.startswith(SENTINEL) else line


def _too_long(prefix: bytes, size: int, limits: ReadLimits) -> str:
    start = prefix[:QUARANTINED_PREFIX_BYTES].decode("utf-8", "backslashreplace")
    return sentinel(
        "line_too_long",
        f"{start}... ({size} bytes; the limit is COSTWATCH_MAX_LINE_BYTES={limits.max_line_bytes})",
    )


def normalized_lines(f: EventFile, limits: ReadLimits) -> Iterator[str]:
    """The file's lines as text, sentinel lines for what is invalid, in bounded memory."""
    buf = b""
    skipping = 0  # > 0: inside a line over the cap, this many bytes of it seen so far
    prefix = b""
    total = 0
    problem: FileProblem | None = None
    try:
        for chunk in _chunks(f):
            if total + len(chunk) > limits.max_file_bytes:
                chunk = chunk[: limits.max_file_bytes - total]
                problem = FileProblem(
                    "file_too_large",
                    f"more than {limits.max_file_bytes} bytes (decompressed); the lines after "
                    f"this one were not read (COSTWATCH_MAX_FILE_MB)",
                )
            total += len(chunk)
            pieces = chunk.split(b"\n")
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                if skipping:
                    skipping += len(piece)
                    # the quarantine row keeps the line's first KiB, however the chunks cut it
                    prefix += piece[: QUARANTINED_PREFIX_BYTES - len(prefix)]
                    if not last:
                        yield _too_long(prefix, skipping, limits)
                        skipping, prefix = 0, b""
                    continue
                buf += piece
                if last:
                    if len(buf) > limits.max_line_bytes:
                        skipping, prefix, buf = len(buf), buf[:QUARANTINED_PREFIX_BYTES], b""
                    continue
                if len(buf) > limits.max_line_bytes:
                    yield _too_long(buf, len(buf), limits)
                else:
                    yield _line_text(buf)
                buf = b""
            if problem is not None:
                break
    except FileProblem as exc:
        problem = exc
    if problem is not None and problem.reason == "file_too_large":
        # the line the cap cut is part of what was not read
        buf, skipping = b"", 0
    if skipping:
        yield _too_long(prefix, skipping, limits)
    elif buf:
        yield _line_text(buf)
    if problem is not None:
        yield sentinel(problem.reason, problem.detail)


def is_utf8(path: Path) -> bool:
    """The whole file decodes as UTF-8 (read in chunks; False when it cannot be read). A chunk
    of ASCII with no character left open before it is not decoded: it is UTF-8 (and the check
    costs the read, not 2.5 times it)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            for chunk in _plain_chunks(fh):
                if not (chunk.isascii() and not decoder.getstate()[0]):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, OSError):
        return False
    return True


def readable_in_place(f: EventFile, limits: ReadLimits) -> bool:
    """DuckDB can read the file as it is: plain, UTF-8, within the caps, an ordinary name."""
    return plain_in_place(f, limits) and is_utf8(f.path)


def plain_in_place(f: EventFile, limits: ReadLimits) -> bool:
    """The file is plain event lines DuckDB may read where it is, if they are UTF-8 (DuckDB's
    read_text fails on the bytes `is_utf8` rejects): inside the root, not OTLP, not gzip, an
    ordinary name, within the file cap."""
    return (
        not f.outside_root
        and not f.is_otlp
        and not is_gzip(f.source_file)
        and f.duckdb_can_open
        and f.size_bytes <= limits.max_file_bytes
    )


def write_normalized(f: EventFile, target: Path, limits: ReadLimits) -> None:
    """A plain UTF-8 copy of `f` with sentinel lines, one newline after every line."""
    with target.open("w", encoding="utf-8", newline="") as out:
        for line in normalized_lines(f, limits):
            out.write(line)
            out.write("\n")


Translate = Callable[[EventFile, Path], None]


def prepare_readable(
    files: Iterable[EventFile], scratch: Path, limits: ReadLimits, translate: Translate
) -> list[tuple[str, str, bool]]:
    """(path DuckDB reads, source_file, normalized?) for each file: the file itself when DuckDB
    can read it as it is, else a normalized copy in `scratch` (`translate` writes those of OTLP
    files)."""
    out: list[tuple[str, str, bool]] = []
    for i, f in enumerate(files):
        if readable_in_place(f, limits):
            out.append((str(f.path), f.source_file, False))
            continue
        target = scratch / f"{i:07d}.jsonl"
        if f.is_otlp:
            translate(f, target)
        else:
            write_normalized(f, target, limits)
        out.append((str(target), f.source_file, True))
    return out


def size_batches(
    items: list[str], size_of: Callable[[str], int], limit: int
) -> Iterator[list[str]]:
    """Consecutive groups of items of at most `limit` bytes together (a bigger item alone)."""
    batch: list[str] = []
    size = 0
    for item in items:
        n = size_of(item)
        if batch and size + n > limit:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch
