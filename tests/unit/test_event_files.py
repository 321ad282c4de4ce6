"""The Python pre-pass of the event reader (sources/events/files.py), called directly: what each
byte sequence becomes (lines, sentinel lines with their reasons and texts), with chunks small
enough that every line, member and cap crosses a chunk boundary. The expected lines are written
out by hand; `S` is the sentinel byte that marks a line the pre-pass judged invalid."""

import datetime as dt
import gzip
import zlib
from pathlib import Path

import pytest

from sources.events import files
from sources.events.files import ReadLimits, discover_files, normalized_lines

S = "\x1e"
LIMITS = ReadLimits(max_line_bytes=5, max_file_bytes=10_000)


def _lines(tmp_path: Path, name: str, data: bytes, limits: ReadLimits = LIMITS) -> list[str]:
    (tmp_path / name).write_bytes(data)
    (f,) = [f for f in discover_files(tmp_path) if f.source_file == name]
    return list(normalized_lines(f, limits))


@pytest.fixture(params=[1, 2, 3, 7, 2**20], ids=lambda n: f"chunk{n}")
def chunk(request, monkeypatch) -> int:
    monkeypatch.setattr(files, "CHUNK_BYTES", request.param)
    return request.param


def test_plain_lines_blank_lines_and_no_final_newline(tmp_path, chunk):
    assert _lines(tmp_path, "a.jsonl", b"ab\n\n12345\nc") == ["ab", "", "12345", "c"]


def test_a_line_over_the_cap_keeps_its_start_and_size(tmp_path, chunk):
    too_long = f"{S}line_too_long\t123456... (6 bytes; the limit is COSTWATCH_MAX_LINE_BYTES=5)"
    assert _lines(tmp_path, "a.jsonl", b"ok\n123456\nabc\n") == ["ok", too_long, "abc"]
    last = f"{S}line_too_long\t1234567... (7 bytes; the limit is COSTWATCH_MAX_LINE_BYTES=5)"
    assert _lines(tmp_path, "b.jsonl", b"ok\n1234567") == ["ok", last]


def test_the_quarantined_start_of_a_long_line_is_one_kib(tmp_path, chunk):
    (line,) = _lines(tmp_path, "a.jsonl", b"x" * 3000 + b"\n")
    assert line == (
        f"{S}line_too_long\t{'x' * 1024}... (3000 bytes; the limit is COSTWATCH_MAX_LINE_BYTES=5)"
    )


def test_invalid_utf8_and_a_sentinel_in_the_input(tmp_path, chunk):
    assert _lines(tmp_path, "a.jsonl", b"\xff\xfeok\n\x1eab\n") == [
        f"{S}invalid_utf8\t\\xff\\xfeok",
        f"{S}invalid_json\t\x1eab",
    ]


def test_the_file_cap_ends_the_file_with_one_line_and_drops_the_cut_line(tmp_path, chunk):
    limits = ReadLimits(max_line_bytes=100, max_file_bytes=6)
    capped = (
        f"{S}file_too_large\tmore than 6 bytes (decompressed); the lines after this one were "
        "not read (COSTWATCH_MAX_FILE_MB)"
    )
    assert _lines(tmp_path, "a.jsonl", b"aaa\nbbb\nccc\n", limits) == ["aaa", capped]
    assert _lines(tmp_path, "b.jsonl", b"aaa\nb\nccc\n", limits) == ["aaa", "b", capped]
    assert _lines(tmp_path, "c.jsonl", b"aaa\nb\n", limits) == ["aaa", "b"]


def test_concatenated_gzip_members_are_one_file(tmp_path, chunk):
    data = gzip.compress(b"a\nb") + gzip.compress(b"c\n") + gzip.compress(b"d\n")
    assert _lines(tmp_path, "a.jsonl.gz", data) == ["a", "bc", "d"]


def test_a_gzip_file_that_is_not_gzip(tmp_path, chunk):
    assert _lines(tmp_path, "a.jsonl.gz", b"a\nb\n") == [f"{S}unreadable_file\tnot a gzip stream"]


def test_a_corrupt_first_member_is_unreadable(tmp_path, chunk):
    data = b"\x1f\x8b\x08\x00" + b"\xff" * 40
    (line,) = _lines(tmp_path, "a.jsonl.gz", data)
    assert line.startswith(f"{S}unreadable_file\tcorrupt gzip (Error -3 while decompressing")


@pytest.mark.parametrize("garbage", [b"junk", b"\x1f\x8b\x08\x00junkjunkjunk"])
def test_garbage_after_a_complete_member_keeps_the_member(tmp_path, chunk, garbage):
    data = gzip.compress(b"a\nb\n") + garbage
    assert _lines(tmp_path, "a.jsonl.gz", data) == ["a", "b", f"{S}truncated_gzip\t"]


def test_a_cut_gzip_keeps_what_was_decompressed(tmp_path, chunk):
    whole = gzip.compress(b"a\nb\nc\n")
    assert _lines(tmp_path, "a.jsonl.gz", whole[:-8]) == ["a", "b", "c", f"{S}truncated_gzip\t"]


def test_decompressed_chunks_are_bounded(tmp_path, monkeypatch):
    """A small file that expands enormously is handed on a chunk at a time."""
    monkeypatch.setattr(files, "CHUNK_BYTES", 64)
    data = gzip.compress(b"x" * 10_000 + b"\n") + gzip.compress(b"y" * 5_000)
    (tmp_path / "a.jsonl.gz").write_bytes(data)
    (f,) = discover_files(tmp_path)
    sizes = [len(c) for c in files._chunks(f)]
    assert max(sizes) <= 64 and sum(sizes) == 15_001


def test_a_gzip_member_without_its_end_is_truncated_even_when_zlib_flushes(tmp_path):
    body = zlib.compressobj(wbits=31)
    data = body.compress(b"a\n" * 100) + body.flush(zlib.Z_SYNC_FLUSH)  # no final block
    assert _lines(tmp_path, "a.jsonl.gz", data)[-2:] == ["a", f"{S}truncated_gzip\t"]


def test_write_normalized_ends_every_line_with_one_newline(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b"a\r\n\xff\nb")
    (f,) = discover_files(tmp_path)
    target = tmp_path / "out"
    files.write_normalized(f, target, LIMITS)
    assert target.read_bytes() == f"a\r\n{S}invalid_utf8\t\\xff\nb\n".encode()


def test_a_result_adds_its_days_up():
    from sources.events.log import IngestResult

    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    result = IngestResult(d1, d2, 3, 2)
    keys = ("lines_read", "accepted", "duplicates", "quarantined", "blank")
    result.per_day = {
        d1: dict(zip(keys, (10, 6, 1, 2, 1), strict=True)),
        d2: dict(zip(keys, (5, 5, 0, 0, 0), strict=True)),
    }
    assert result.totals() == {
        "lines_read": 15, "accepted": 11, "duplicates": 1, "quarantined": 2, "blank": 1,
    }  # fmt: skip


def test_the_removed_files_message_says_what_went_and_what_to_do():
    from sources.events.log import _removed_message

    removed = {
        dt.date(2026, 11, 2): {"files": ["b.jsonl"], "events": 1},
        dt.date(2026, 11, 1): {"files": ["a.jsonl", "a.jsonl.1"], "events": 3},
    }
    assert _removed_message(removed) == (
        "Re-running these days would remove events that are no longer in any event file (the "
        "files are gone, shorter or moved out of the events folder): 2026-11-01: 3 events from "
        "a.jsonl, a.jsonl.1; 2026-11-02: 1 events from b.jsonl. Nothing was changed. Put the "
        "files back (a rotated copy such as app.jsonl.1 or app.jsonl.2.gz counts), or, if they "
        "were removed on purpose, run again with --accept-removed-files (in the UI: config "
        "accept_removed_files: true on ingest_app_events); the run's metadata then records what "
        "was removed."
    )


UTF8_CASES = [
    b"",
    b'{"a": 1}\n' * 5,
    '{"name": "caf\u00e9 \u20ac \U0001f600"}\n'.encode() * 3,
    b"abc\xc3",  # a character left open at the end
    b"abc\xc3abcdefgh",  # a character left open, ASCII after it
    b"ab\xc3a\xa9cd",  # ASCII between a character's two bytes ("\xc3\xa9" alone is valid)
    b"abcdefg\x80abc",  # a continuation byte alone
    b"ab\xc0\xafcd",  # an overlong encoding
    b"ab\xed\xa0\x80cd",  # a surrogate
    b"ab\xf4\x90\x80\x80cd",  # beyond U+10FFFF
    b"abcdef\xf0\x9f\x98",  # a four-byte character cut short
]


@pytest.mark.parametrize("data", UTF8_CASES, ids=range(len(UTF8_CASES)))
def test_is_utf8_agrees_with_decoding_the_whole_file(tmp_path, chunk, data):
    def decodes() -> bool:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    (tmp_path / "a.jsonl").write_bytes(data)
    assert files.is_utf8(tmp_path / "a.jsonl") is decodes()
