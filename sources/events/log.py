"""Read, validate and load application event logs (JSON Lines) into DuckDB.

DuckDB does the heavy work: it reads the files (`read_text`), splits lines, parses and validates
JSON with one generated SQL statement. Python only lists files and rewrites the few files DuckDB
cannot read as UTF-8 text (gzip, invalid UTF-8) into plain files in a scratch folder.

Day attribution (so that every line of every file is counted in exactly one day partition):
- a line with a parseable `ts` belongs to the UTC day of that `ts`;
- any other line (blank, not JSON, no/invalid ts) belongs to the earliest UTC day of the valid
  timestamps in the same file, or to the UTC day of the file's modification time if it has none.

A manifest (`raw.event_files`) remembers which days each file holds, keyed by size and mtime, so a
partition run reads only the files holding its days plus files that are new or changed.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sources.events.contract import (
    ANONYMOUS_USER,
    ENVELOPE_OPTIONAL,
    ENVELOPE_REQUIRED,
    EVENT_TYPES,
    FIELDS,
    LLM_STATUS,
    TOKEN_INEQUALITIES,
    TYPE_FIELDS,
    Field,
    known_keys,
)
from sources.events.files import (
    QUARANTINED_PREFIX_BYTES,
    EventFile,
    ReadLimits,
    discover_files,
    prepare_readable,
    write_normalized,
)
from sources.warehouse import transaction

__all__ = ["EventFile", "FilesRemoved", "IngestResult", "ReadLimits", "discover_files"]

TS_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
    # UTC offsets exist from -12:00 to +14:00, minutes below 60 (`Z`, `+05:45`, `+0530`, `+01`)
    r"([Zz]|\+(0\d|1[0-3])(:?[0-5]\d)?|\+14(:?00)?|-(0\d|1[01])(:?[0-5]\d)?|-12(:?00)?)$"
)
REQUIRED_NONEMPTY = ("event_id", "type", "ts", "provider", "model", "service")


@dataclass
class IngestResult:
    """What one load of a day range did. `per_day` maps day -> counts; they add up per day."""

    start_day: dt.date
    end_day: dt.date
    files_scanned: int
    files_read: int
    per_day: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    late_days: list[dt.date] = field(default_factory=list)
    # day -> {"files": source files gone or changed, "events": events no longer found}; only when
    # the operator accepted it (else FilesRemoved is raised and nothing is written)
    removed: dict[dt.date, dict] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = ("lines_read", "accepted", "duplicates", "quarantined", "blank")
        return {k: sum(d.get(k, 0) for d in self.per_day.values()) for k in keys}


class FilesRemoved(RuntimeError):
    """A rerun would drop events because files it read before are gone or shorter."""


# --------------------------------------------------------------------------------------------
# SQL generation (from the contract tables; no input value is ever formatted into SQL)
# --------------------------------------------------------------------------------------------

ALL_PATH_FIELDS: tuple[str, ...] = (
    *ENVELOPE_REQUIRED,
    *(f.name for f in ENVELOPE_OPTIONAL),
    *FIELDS,
)
ALL_FIELDS: tuple[Field, ...] = (*ENVELOPE_OPTIONAL, *FIELDS.values())

# Column names in the generated SQL, per JSON field: v_ the extracted JSON value, t_ its JSON
# type, x_ its typed value, n_ its value as DOUBLE (counts and integers, for the integral test).
# Each is computed once per line; every check below only reads them.


def _q(s: str) -> str:
    """A SQL string literal for a constant of this module (never for input data)."""
    return "'" + s.replace("'", "''") + "'"


def _v(name: str) -> str:
    return f"v_{name}"


def _t(name: str) -> str:
    return f"t_{name}"


def _x(name: str) -> str:
    return f"x_{name}"


def occurred_at_sql(ts: str) -> str:
    """UTC timestamp of a `ts` string (NULL when it breaks the contract's format). The one
    definition, used by the full parse and by the reader's day pass."""
    return (
        f"case when regexp_full_match({ts}, {_q(TS_PATTERN)}) "
        f"then try_cast({ts} as TIMESTAMPTZ) at time zone 'UTC' end"
    )


TsBounds = tuple[dt.datetime, dt.datetime]  # the earliest and latest `ts` accepted (naive UTC)


def ts_bounds(limits: ReadLimits, now: dt.datetime) -> TsBounds:
    """A `ts` before the first partition or beyond now plus the clock-skew allowance has no
    partition to live in: it is quarantined (`out_of_range:ts`) and never takes part in dedup."""
    first = dt.datetime.combine(limits.first_day, dt.time())
    return first, now.replace(tzinfo=None) + limits.max_clock_skew


def _ts_literal(value: dt.datetime) -> str:
    """A TIMESTAMP literal of a bound computed here (a datetime, never input text)."""
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def in_bounds_sql(ts: str, bounds: TsBounds) -> str:
    return f"({ts} between {_ts_literal(bounds[0])} and {_ts_literal(bounds[1])})"


def _present(name: str) -> str:
    return f"({_t(name)} is not null and {_t(name)} <> 'NULL')"


def _types_with(name: str) -> tuple[list[str], list[str]]:
    """(types where field applies, types where it is required)."""
    applies = [t for t, fs in TYPE_FIELDS.items() if name in fs]
    required = [t for t, fs in TYPE_FIELDS.items() if fs.get(name)]
    return applies, required


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


def _type_ok(f: Field) -> str:
    t = _t(f.name)
    n = f"n_{f.name}"
    # NaN and Infinity parse as JSON numbers here; they are not values of any field
    integral = (
        f"({t} in ('BIGINT', 'UBIGINT') or ({t} = 'DOUBLE' and isfinite({n}) and {n} = floor({n})))"
    )
    return {
        "string": f"{t} = 'VARCHAR'",
        "count": integral,
        "integer": integral,
        "number": f"({t} in ('BIGINT', 'UBIGINT') or ({t} = 'DOUBLE' and isfinite({n})))",
        "bool": f"{t} = 'BOOLEAN'",
        "object": f"{t} = 'OBJECT'",
    }[f.kind]


def _value_expr(f: Field) -> str:
    """Typed value of a field from its JSON value (NULL when it does not convert)."""
    v = _v(f.name)
    if f.kind == "string":
        return f"case when {_t(f.name)} = 'VARCHAR' then {v} ->> '$' end"
    if f.kind in ("count", "integer"):
        return f"coalesce(try_cast({v} as BIGINT), try_cast(try_cast({v} as DOUBLE) as BIGINT))"
    if f.kind == "number":
        if f.sql_type.startswith("DECIMAL"):
            return (
                f"coalesce(try_cast({v} ->> '$' as {f.sql_type}), "
                f"try_cast(try_cast({v} as DOUBLE) as {f.sql_type}))"
            )
        return f"try_cast({v} as DOUBLE)"
    if f.kind == "bool":
        return f"try_cast({v} as BOOLEAN)"
    return v


def _field_checks(f: Field, type_cond: str, required: bool) -> list[tuple[str, str]]:
    """(condition, reason) pairs for one field, in the order they are tested."""
    checks: list[tuple[str, str]] = []
    pres, x = _present(f.name), _x(f.name)
    if required:
        missing = f"not {pres}"
        if f.name in REQUIRED_NONEMPTY:
            missing = f"(not {pres} or {x} = '')"
        checks.append((f"{type_cond} and {missing}", f"missing_field:{f.name}"))
    guard = f"{type_cond} and {pres}"
    checks.append((f"{guard} and not ({_type_ok(f)})", f"wrong_type:{f.name}"))
    if f.kind in ("count", "integer", "number"):
        checks.append((f"{guard} and {x} is null", f"out_of_range:{f.name}"))
    if f.kind == "count":
        checks.append((f"{guard} and {x} < 0", f"negative_count:{f.name}"))
    if f.minimum is not None:
        checks.append((f"{guard} and {x} < {f.minimum}", f"out_of_range:{f.name}"))
    if f.maximum is not None:
        checks.append((f"{guard} and {x} > {f.maximum}", f"out_of_range:{f.name}"))
    if f.enum:
        checks.append((f"{guard} and {x} not in {_in_list(f.enum)}", f"invalid_value:{f.name}"))
    return checks


def reason_sql(bounds: TsBounds) -> str:
    """The CASE expression naming the first contract rule a line breaks (NULL when valid)."""
    whens: list[tuple[str, str]] = [
        ("sentinel_reason is not null", "__sentinel__"),
        ("is_blank", "__blank__"),
        ("not is_json", "invalid_json"),
        ("not is_object", "not_an_object"),
    ]
    for name in ENVELOPE_REQUIRED:
        pres = _present(name)
        whens.append(
            (
                f"(not {pres} or ({_t(name)} = 'VARCHAR' and {_x(name)} = ''))",
                f"missing_field:{name}",
            )
        )
        whens.append((f"{_t(name)} <> 'VARCHAR'", f"wrong_type:{name}"))
    whens.append((f"event_type not in {_in_list(EVENT_TYPES)}", "unknown_type"))
    whens.append(("occurred_at is null", "invalid_ts"))
    whens.append((f"not {in_bounds_sql('occurred_at', bounds)}", "out_of_range:ts"))
    for f in ENVELOPE_OPTIONAL:
        whens.extend(_field_checks(f, "true", required=False))
    for name, f in FIELDS.items():
        applies, required = _types_with(name)
        whens.extend(_field_checks(f, f"event_type in {_in_list(applies)}", required=False))
        if required:
            whens.extend(
                (c, r)
                for c, r in _field_checks(f, f"event_type in {_in_list(required)}", True)
                if r.startswith("missing_field")
            )
    whens.append(
        (
            f"event_type = 'llm_call' and {_present('status')} and {_x('status')} not in "
            f"{_in_list(LLM_STATUS)}",
            "invalid_value:status",
        )
    )
    for suffix, parts, whole in TOKEN_INEQUALITIES:
        lhs = " + ".join(f"coalesce({_x(p)}, 0)" for p in parts)
        whens.append(
            (
                f"event_type = 'llm_call' and {lhs} > coalesce({_x(whole)}, 0)",
                f"token_inequality:{suffix}",
            )
        )
    # Missing-field checks must win over type checks of other fields: order them first.
    missing = [w for w in whens[4:] if w[1].startswith("missing_field")]
    rest = [w for w in whens[4:] if not w[1].startswith("missing_field")]
    ordered = whens[:4] + missing + rest
    body = "\n".join(
        f"    when {cond} then "
        + (
            "sentinel_reason"
            if r == "__sentinel__"
            else "'__blank__'"
            if r == "__blank__"
            else _q(r)
        )
        for cond, r in ordered
    )
    return f"case\n{body}\n  end"


def _known_keys_sql() -> str:
    branches = " ".join(
        f"when {_q(t)} then [{', '.join(_q(k) for k in sorted(known_keys(t)))}]"
        for t in EVENT_TYPES
    )
    return f"case event_type {branches} end"


def parse_sql(bounds: TsBounds) -> str:
    """SELECT over temp table `lines` giving one row per line with reason and typed columns."""
    paths = ", ".join(_q(f'$."{n}"') for n in ALL_PATH_FIELDS)
    extracted = ",\n    ".join(
        f"vals[{i + 1}] as {_v(n)}, json_type(vals[{i + 1}]) as {_t(n)}"
        for i, n in enumerate(ALL_PATH_FIELDS)
    )
    values = ",\n    ".join(
        [f"{_value_expr(f)} as {_x(f.name)}" for f in ALL_FIELDS]
        + [
            f"try_cast({_v(f.name)} as DOUBLE) as n_{f.name}"
            for f in ALL_FIELDS
            if f.kind in ("count", "integer", "number")
        ]
        + [
            f"case when {_t(n)} = 'VARCHAR' then {_v(n)} ->> '$' end as {_x(n)}"
            for n in ENVELOPE_REQUIRED
        ]
    )
    columns = []
    for f in ALL_FIELDS:
        if f.name in ("user_id", "metadata", "status", "units"):
            continue
        applies, _ = _types_with(f.name)
        guard = "true" if f in ENVELOPE_OPTIONAL else f"event_type in {_in_list(applies)}"
        columns.append(
            f"case when {guard} and {_present(f.name)} then {_x(f.name)} end::{f.sql_type} "
            f"as {f.column}"
        )
    columns.append(
        f"case when {_present('status')} then {_x('status')} "
        "when event_type = 'llm_call' then 'ok' end as status"
    )
    columns.append(
        f"case when event_type = 'api_call' then coalesce({_x('units')}, 1) end"
        f"::{FIELDS['units'].sql_type} as units"
    )
    cols = ",\n    ".join(columns)
    return f"""
with shaped as (
  select
    source_file, line_no, line, sentinel_reason,
    json_valid(line) as is_json
  from lines
),
objects as (
  select *,
    -- trim() costs more than parsing: only lines that are not JSON can be blank
    case when is_json then false else trim(line) = '' end as is_blank,
    case when is_json then json_type(line) = 'OBJECT' else false end as is_object
  from shaped
),
extracted as (
  select *,
    case when sentinel_reason is null and not is_blank and is_object
         then json_extract(line, [{paths}]) end as vals
  from objects
),
fields as (
  select
    source_file, line_no, line, sentinel_reason, is_blank, is_json, is_object,
    {extracted}
  from extracted
),
valued as (
  select *,
    {values}
  from fields
),
typed as (
  select *,
    x_type as event_type,
    {occurred_at_sql("x_ts")} as occurred_at
  from valued
),
judged as (
  select *, {reason_sql(bounds)} as verdict
  from typed
)
select
  source_file, line_no, line,
  case when verdict = '__blank__' then null else verdict end as reason,
  coalesce(verdict = '__blank__', false) as is_blank,
  occurred_at,
  case when verdict is null then x_event_id end as event_id,
  event_type,
  x_ts as ts_raw,
  coalesce(x_user_id, {_q(ANONYMOUS_USER)}) as user_id,
  {cols},
  case when t_metadata = 'OBJECT' then v_metadata end as explicit_metadata,
  case when verdict is null
       then len(list_filter(json_keys(line), lambda k: not list_contains({_known_keys_sql()}, k)))
  end as unknown_key_count
from judged
"""  # noqa: S608 (generated from the contract tables)


TYPED_COLUMNS: tuple[Field, ...] = tuple(
    f for f in ALL_FIELDS if f.name not in ("user_id", "metadata")
)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and tables if they do not exist (idempotent)."""
    typed = ",\n  ".join(f"{f.column} {f.sql_type}" for f in TYPED_COLUMNS)
    con.execute("create schema if not exists raw")
    con.execute(
        f"""
        create table if not exists raw.app_events (
          event_id VARCHAR not null,
          event_type VARCHAR not null,
          occurred_at TIMESTAMP not null,
          event_day DATE not null,
          ts_raw VARCHAR not null,
          user_id VARCHAR not null,
          {typed},
          metadata JSON,
          source_file VARCHAR not null,
          line_no BIGINT not null,
          ingested_at TIMESTAMP not null
        )"""
    )
    con.execute(
        """
        create table if not exists raw.event_quarantine (
          source_file VARCHAR not null,
          line_no BIGINT not null,
          raw_line VARCHAR not null,
          reason VARCHAR not null,
          ingested_at TIMESTAMP not null,
          event_day DATE not null
        )"""
    )
    con.execute(
        """
        create table if not exists raw.event_file_stats (
          source_file VARCHAR not null,
          event_day DATE not null,
          lines_read BIGINT not null,
          accepted BIGINT not null,
          duplicates BIGINT not null,
          quarantined BIGINT not null,
          blank BIGINT not null,
          ingested_at TIMESTAMP not null
        )"""
    )
    con.execute(
        """
        create table if not exists raw.event_files (
          source_file VARCHAR not null,
          size_bytes BIGINT not null,
          mtime_ns BIGINT not null,
          event_day DATE not null
        )"""
    )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _files_to_read(
    con: duckdb.DuckDBPyConnection, files: list[EventFile], start: dt.date, end: dt.date
) -> tuple[list[EventFile], set[str]]:
    """Files holding days in [start, end] per the manifest, plus new or changed files."""
    rows = con.execute(
        "select source_file, size_bytes, mtime_ns, event_day from raw.event_files"
    ).fetchall()
    known: dict[str, tuple[int, int]] = {}
    days: dict[str, set[dt.date]] = {}
    for source_file, size, mtime, day in rows:
        known[source_file] = (size, mtime)
        days.setdefault(source_file, set()).add(day)
    chosen: list[EventFile] = []
    changed: set[str] = set()
    for f in files:
        if known.get(f.source_file) != (f.size_bytes, f.mtime_ns):
            chosen.append(f)
            changed.add(f.source_file)
        elif any(start <= d <= end for d in days.get(f.source_file, ())):
            chosen.append(f)
    return chosen, changed


def split_sql(limits: ReadLimits) -> str:
    """Numbered lines of the files `read_text(?)` reads: the CR of CRLF and a UTF-8 byte-order
    mark before the first line dropped, sentinel lines of normalized copies split into reason and
    text, and lines over the cap replaced by their start (`line_too_long`), before anything
    parses them."""
    cap = int(limits.max_line_bytes)
    keep = int(QUARANTINED_PREFIX_BYTES)
    return f"""
with texts as (
  select m.source_file, m.normalized, m.mtime_day, t.content
  from read_text(?) t join file_map m on m.read_path = t.filename
),
parts as (
  select source_file, normalized, mtime_day, string_split(content, chr(10)) as parts,
         ends_with(content, chr(10)) or content = '' as drop_last
  from texts
),
numbered as (
  select source_file, normalized, mtime_day, drop_last, len(parts) as n,
         unnest(parts) as line, generate_subscripts(parts, 1) as line_no
  from parts
),
cleaned as (
  select source_file, normalized, mtime_day, line_no,
         case when line_no = 1 and starts_with(line, chr(65279)) then substr(line, 2)
              else line end as line
  from numbered
  where not (drop_last and line_no = n)
),
stripped as (
  select source_file, normalized, mtime_day, line_no,
         case when ends_with(line, chr(13)) then left(line, -1) else line end as line
  from cleaned
),
sentinels as (
  select source_file, line_no, mtime_day,
         case when normalized and starts_with(line, chr(30))
              then split_part(substr(line, 2), chr(9), 1)
              when strlen(line) > {cap} then 'line_too_long' end as sentinel_reason,
         case when normalized and starts_with(line, chr(30))
              then substr(line, strpos(line, chr(9)) + 1)
              when strlen(line) > {cap}
              then left(line, {keep}) || '... (' || strlen(line) || ' bytes; the limit is '
                   || 'COSTWATCH_MAX_LINE_BYTES={cap})'
              else line end as line
  from stripped
)
select * from sentinels
"""  # noqa: S608 (two integers of the configuration)


def line_days_sql(bounds: TsBounds) -> str:
    """The day of every line, from the same rules as the full parse but reading only `ts` (and
    the event id, to find duplicates across days): a line's ts day when it is a valid ts inside
    the partitions, else the earliest such day of its file, else the file's modification day.
    Files are whole within one batch."""
    occurred = occurred_at_sql("k[1]")
    return f"""
with keyed as (
  select source_file, line_no, mtime_day,
         case when sentinel_reason is null and json_valid(line)
              then json_extract_string(line, ['$."ts"', '$."event_id"']) end as k
  from batch_lines
),
parsed as (
  select source_file, line_no, mtime_day, k[2] as event_key, {occurred} as occurred_at
  from keyed
),
dated as (
  select source_file, line_no, mtime_day, event_key,
         case when {in_bounds_sql("occurred_at", bounds)} then occurred_at::DATE end as ts_day
  from parsed
)
select d.source_file, d.line_no, coalesce(d.ts_day, f.first_day, d.mtime_day) as event_day,
       d.event_key
from dated d
join (select source_file, min(ts_day) as first_day from dated group by 1) f using (source_file)
"""  # noqa: S608 (built from module constants and computed bounds)


class _Reader:
    """Reads batches of files into temp table `batch_lines`; `file_map` says what DuckDB reads
    for each file (the file itself, or its normalized copy in `scratch`)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        files: list[EventFile],
        scratch: Path,
        limits: ReadLimits,
    ) -> None:
        self.con, self.scratch, self.limits = con, scratch, limits
        readable = prepare_readable(files, scratch, limits)
        by_name = {f.source_file: f for f in files}
        self.in_place = {p: by_name[s] for p, s, normalized in readable if not normalized}
        self.sizes = {
            p: by_name[s].size_bytes if not normalized else Path(p).stat().st_size
            for p, s, normalized in readable
        }
        self.paths = [p for p, _, _ in readable]
        con.execute(
            "create or replace temp table file_map "
            "(read_path VARCHAR, source_file VARCHAR, normalized BOOLEAN, mtime_day DATE)"
        )
        if readable:
            con.executemany(
                "insert into file_map values (?, ?, ?, ?)",
                [(p, s, n, by_name[s].mtime_day) for p, s, n in readable],
            )

    def batches(self, paths: list[str]) -> Iterator[list[str]]:
        """Consecutive groups of files of at most LINES_BATCH_BYTES together (a bigger file
        alone): read_text holds whole files in memory, outside DuckDB's memory limit."""
        batch: list[str] = []
        size = 0
        for p in paths:
            n = self.sizes[p]
            if batch and size + n > LINES_BATCH_BYTES:
                yield batch
                batch, size = [], 0
            batch.append(p)
            size += n
        if batch:
            yield batch

    def read(self, paths: list[str]) -> None:
        sql = f"create or replace temp table batch_lines as {split_sql(self.limits)}"
        try:
            self.con.execute(sql, [paths])
            # read_text skips a file of its list that does not exist (any more)
            failed = any(p in self.in_place and not os.path.exists(p) for p in paths)
        except duckdb.Error:
            failed = True
        if failed:
            # A file changed between the UTF-8 check and this read (a writer appended half a
            # character, or it vanished): its lines are copied through Python, which quarantines
            # what it cannot read, and the batch is read again.
            self.con.execute(sql, [[self._normalize_again(p) for p in paths]])

    def _normalize_again(self, path: str) -> str:
        f = self.in_place.pop(path, None)
        if f is None:
            return path
        target = self.scratch / f"again-{len(self.sizes):07d}.jsonl"
        write_normalized(f, target, self.limits)
        self.sizes[str(target)] = target.stat().st_size
        self.con.execute(
            "update file_map set read_path = $new, normalized = true where read_path = $old",
            {"new": str(target), "old": path},
        )
        return str(target)


def _load_lines(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    scratch: Path,
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
) -> None:
    """Temp table `lines`: the lines of `files` that the days [start, end] need (their own lines,
    and lines of other days holding the same event ids, for dedup); temp table `line_days`: the
    day of every line of every file (for the manifest and late-day reports).

    A backfill's first chunk reads every new file; only the chunk's lines are kept for parsing,
    so a year of new logs costs one light pass, not a full parse of the year.
    """
    reader = _Reader(con, files, scratch, limits)
    con.execute(
        "create or replace temp table lines "
        "(source_file VARCHAR, line_no BIGINT, sentinel_reason VARCHAR, line VARCHAR)"
    )
    con.execute(
        "create or replace temp table line_days "
        "(source_file VARCHAR, line_no BIGINT, event_day DATE, event_key VARCHAR)"
    )
    window = {"start": start, "end": end}
    days_sql = line_days_sql(bounds)
    for batch in reader.batches(reader.paths):
        reader.read(batch)
        con.execute(f"insert into line_days {days_sql}")
        _keep_lines(
            con,
            "select source_file, line_no from line_days where event_day between $start and $end",
            window,
        )
    # Lines of other days that repeat an event id of the window (re-delivered events): read again,
    # so that the first occurrence wins as when every line was parsed. Rare; usually none.
    con.execute(
        """
        create or replace temp table other_day_duplicates as
        select source_file, line_no from line_days
        where event_day not between $start and $end
          and event_key in (select event_key from line_days where event_day between $start and $end)
        """,
        window,
    )
    paths = [
        p
        for (p,) in con.execute(
            "select read_path from file_map where source_file in "
            "(select source_file from other_day_duplicates) order by read_path"
        ).fetchall()
    ]
    for batch in reader.batches(paths):
        reader.read(batch)
        _keep_lines(con, "select source_file, line_no from other_day_duplicates")
    con.execute("drop table if exists batch_lines")


def _keep_lines(con: duckdb.DuckDBPyConnection, wanted: str, params: dict | None = None) -> None:
    """Append to `lines` the lines of `batch_lines` that `wanted` (source_file, line_no) names."""
    con.execute(
        "insert into lines select b.source_file, b.line_no, b.sentinel_reason, b.line "  # noqa: S608
        f"from batch_lines b semi join ({wanted}) w using (source_file, line_no)",
        params or {},
    )


LINES_BATCH_BYTES = 256 * 2**20


def ingest_range(
    con: duckdb.DuckDBPyConnection,
    events_root: Path,
    start_day: dt.date,
    end_day: dt.date,
    ingested_at: dt.datetime | None = None,
    scratch_dir: Path | None = None,
    limits: ReadLimits | None = None,
    accept_removed: bool = False,
) -> IngestResult:
    """Replace the raw rows of days [start_day, end_day] with what the event files hold now.

    Idempotent: the same files give the same rows. Rows of other days are not touched. A rerun
    that would drop stored events because their files are gone or shorter raises FilesRemoved
    and writes nothing, unless `accept_removed` (then the result's `removed` says what went).
    """
    ensure_tables(con)
    limits = limits or ReadLimits()
    now = ingested_at or dt.datetime.now(dt.UTC)
    ingested_at = now.replace(tzinfo=None)
    bounds = ts_bounds(limits, now)
    files = discover_files(events_root)
    to_read, changed = _files_to_read(con, files, start_day, end_day)
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="costwatch-ingest-") as tmp:
        _load_lines(con, to_read, Path(tmp), start_day, end_day, limits, bounds)
    con.execute(f"create or replace temp table parsed as {parse_sql(bounds)}")
    con.execute(
        """
        create or replace temp view attributed as
        select p.*, d.event_day
        from parsed p join line_days d using (source_file, line_no)
        """
    )
    params = {"start": start_day, "end": end_day}
    # Winner per event_id among the lines read and the rows already stored for other days.
    con.execute(
        """
        create or replace temp table stored_copies as
        select event_id, occurred_at, source_file, line_no, event_day from raw.app_events
        where event_day not between $start and $end
          and event_id in (select event_id from attributed where reason is null)
        """,
        params,
    )
    con.execute(
        """
        create or replace temp table ranked as
        with candidates as (
          select event_id, occurred_at, source_file, line_no from attributed
          where reason is null and not is_blank
          union
          select event_id, occurred_at, source_file, line_no from stored_copies
        )
        select *, row_number() over (
          partition by event_id order by occurred_at, source_file, line_no) as rn
        from candidates
        """
    )
    # Late days: other days of new or changed files, and days whose stored copy of an event is no
    # longer its first occurrence (an earlier copy arrived later); a run of each puts them right.
    late = con.execute(
        """
        select event_day from line_days
        where source_file in (select unnest($changed::VARCHAR[]))
          and event_day not between $start and $end
        union
        select s.event_day from stored_copies s
        join ranked r using (event_id, source_file, line_no)
        where r.rn > 1
        order by 1
        """,
        {**params, "changed": sorted(changed)},
    ).fetchall()
    removed = _removed_events(con, start_day, end_day)
    if removed and not accept_removed:
        raise FilesRemoved(_removed_message(removed))
    _build_extra_metadata(con)
    typed_cols = ", ".join(f"a.{f.column}" for f in TYPED_COLUMNS)
    with transaction(con):
        con.execute("delete from raw.app_events where event_day between $start and $end", params)
        con.execute(
            "delete from raw.event_quarantine where event_day between $start and $end", params
        )
        con.execute(
            "delete from raw.event_file_stats where event_day between $start and $end", params
        )
        con.execute(
            f"""
            insert into raw.app_events
            select a.event_id, a.event_type, a.occurred_at, a.event_day, a.ts_raw, a.user_id,
                   {typed_cols},
                   case when x.extra is null then a.explicit_metadata
                        else json_merge_patch(x.extra, coalesce(a.explicit_metadata, '{{}}'))
                   end as metadata,
                   a.source_file, a.line_no, $ingested_at
            from attributed a
            join ranked r using (event_id, source_file, line_no)
            left join extra_metadata x using (source_file, line_no)
            where a.reason is null and not a.is_blank and r.rn = 1
              and a.event_day between $start and $end
            """,  # noqa: S608 (column list from the contract)
            {**params, "ingested_at": ingested_at},
        )
        con.execute(
            """
            insert into raw.event_quarantine
            select source_file, line_no, line, reason, $ingested_at, event_day
            from attributed
            where reason is not null and event_day between $start and $end
            """,
            {**params, "ingested_at": ingested_at},
        )
        con.execute(
            """
            insert into raw.event_file_stats
            select a.source_file, a.event_day,
                   count(*),
                   count(*) filter (where a.reason is null and not a.is_blank and r.rn = 1),
                   count(*) filter (where a.reason is null and not a.is_blank and r.rn > 1),
                   count(*) filter (where a.reason is not null),
                   count(*) filter (where a.is_blank),
                   $ingested_at
            from attributed a
            left join ranked r using (event_id, source_file, line_no)
            where a.event_day between $start and $end
            group by all
            """,
            {**params, "ingested_at": ingested_at},
        )
        _update_manifest(con, files, changed)
    result = _result(con, start_day, end_day, len(files), len(to_read), [d for (d,) in late])
    result.removed = removed
    return result


def _removed_events(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict:
    """Stored events of the days that no line read now carries and no other day holds: their
    files are gone, shorter or moved out of the events folder. day -> files and event count.

    A rotated file (`app.jsonl` -> `app.jsonl.1` -> `app.jsonl.2.gz`) still carries its events,
    so rotation removes nothing; a line that is now quarantined is not removed either."""
    rows = con.execute(
        """
        select event_day, list(distinct source_file order by source_file), count(*)
        from raw.app_events s
        where event_day between $start and $end
          and not exists (select 1 from line_days l where l.event_key = s.event_id)
          and not exists (
            select 1 from raw.app_events o
            where o.event_id = s.event_id and o.event_day not between $start and $end)
        group by 1 order by 1
        """,
        {"start": start, "end": end},
    ).fetchall()
    return {day: {"files": files, "events": int(n)} for day, files, n in rows}


def _removed_message(removed: dict) -> str:
    parts = [
        f"{day}: {info['events']} events from {', '.join(info['files'])}"
        for day, info in sorted(removed.items())
    ]
    return (
        "Re-running these days would remove events that are no longer in any event file (the "
        f"files are gone, shorter or moved out of the events folder): {'; '.join(parts)}. "
        "Nothing was changed. Put the files back (a rotated copy such as app.jsonl.1 or "
        "app.jsonl.2.gz counts), or, if they were removed on purpose, run again with "
        "--accept-removed-files (in the UI: config accept_removed_files: true on "
        "ingest_app_events); the run's metadata then records what was removed."
    )


def _build_extra_metadata(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table of the top-level keys each accepted line has no column for, as one object.

    Only lines that have such keys are expanded, so the common case costs nothing.
    """
    con.execute("create or replace temp table known_keys (event_type VARCHAR, known VARCHAR[])")
    con.executemany(
        "insert into known_keys values (?, ?)",
        [(t, sorted(known_keys(t))) for t in EVENT_TYPES],
    )
    con.execute(
        """
        create or replace temp table extra_metadata as
        select a.source_file, a.line_no, json_group_object(e.key, e.value) as extra
        from attributed a
        join known_keys k using (event_type)
        cross join json_each(a.line) e
        where a.unknown_key_count > 0 and not list_contains(k.known, e.key)
        group by all
        """
    )


def _update_manifest(
    con: duckdb.DuckDBPyConnection, files: list[EventFile], changed: set[str]
) -> None:
    present = [f.source_file for f in files]
    con.execute(
        "delete from raw.event_files where source_file not in (select unnest($p::VARCHAR[]))",
        {"p": present},
    )
    if not changed:
        return
    con.execute(
        "delete from raw.event_files where source_file in (select unnest($c::VARCHAR[]))",
        {"c": sorted(changed)},
    )
    meta = [
        (f.source_file, f.size_bytes, f.mtime_ns, f.mtime_day)
        for f in files
        if f.source_file in changed
    ]
    con.execute(
        "create or replace temp table changed_files "
        "(source_file VARCHAR, size_bytes BIGINT, mtime_ns BIGINT, mtime_day DATE)"
    )
    con.executemany("insert into changed_files values (?, ?, ?, ?)", meta)
    # A file with no lines still gets a row, so it is not re-read on every run.
    con.execute(
        """
        insert into raw.event_files
        select c.source_file, c.size_bytes, c.mtime_ns, coalesce(d.event_day, c.mtime_day)
        from changed_files c
        left join (select distinct source_file, event_day from line_days) d using (source_file)
        """
    )


def _result(
    con: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    scanned: int,
    read: int,
    late: list[dt.date],
) -> IngestResult:
    result = IngestResult(start, end, scanned, read, late_days=late)
    rows = con.execute(
        """
        select event_day, sum(lines_read), sum(accepted), sum(duplicates), sum(quarantined),
               sum(blank)
        from raw.event_file_stats where event_day between $s and $e group by 1 order by 1
        """,
        {"s": start, "e": end},
    ).fetchall()
    for day, *counts in rows:
        keys = ("lines_read", "accepted", "duplicates", "quarantined", "blank")
        result.per_day[day] = dict(zip(keys, (int(c) for c in counts), strict=True))
    result.quarantine_reasons = dict(
        con.execute(
            """
            select reason, count(*) from raw.event_quarantine
            where event_day between $s and $e group by 1 order by 1
            """,
            {"s": start, "e": end},
        ).fetchall()
    )
    return result
