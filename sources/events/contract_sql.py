"""The event contract compiled to SQL: one statement that extracts, types and validates every
field of every line and names its quarantine reason, generated from the contract tables
(sources/events/contract.py). No input value is ever formatted into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

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
    ReadLimits,
)

TS_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
    # UTC offsets exist from -12:00 to +14:00, minutes below 60 (`Z`, `+05:45`, `+0530`, `+01`)
    r"([Zz]|\+(0\d|1[0-3])(:?[0-5]\d)?|\+14(:?00)?|-(0\d|1[01])(:?[0-5]\d)?|-12(:?00)?)$"
)

REQUIRED_NONEMPTY = ("event_id", "type", "ts", "provider", "model", "service")

ALL_PATH_FIELDS: tuple[str, ...] = (
    *ENVELOPE_REQUIRED,
    *(f.name for f in ENVELOPE_OPTIONAL),
    *FIELDS,
)

ALL_FIELDS: tuple[Field, ...] = (*ENVELOPE_OPTIONAL, *FIELDS.values())


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


# The JSON types (`json_type`) a field's value may have for a line to take the typed fast path:
# every value converts exactly as the per-field rules would convert it (`UBIGINT` is how DuckDB
# types a JSON integer >= 0; one beyond BIGINT becomes NULL on both paths). Any other type (a count
# written as 12.0 or "12", a string where an object belongs...) sends the line to the per-field
# rules, which name its reason.
FAST_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("VARCHAR", "NULL"),
    "count": ("UBIGINT", "BIGINT", "NULL"),
    "integer": ("UBIGINT", "BIGINT", "NULL"),
    "number": ("UBIGINT", "BIGINT", "DOUBLE", "NULL"),
    "bool": ("BOOLEAN", "NULL"),
    "object": ("OBJECT", "NULL"),
}

_ENVELOPE_KINDS = {name: "string" for name in ENVELOPE_REQUIRED}
# the fast path unnests the fields next to the line's own columns: no field may share a name
assert not {*ALL_PATH_FIELDS} & {
    "source_file",
    "line_no",
    "line",
    "sentinel_reason",
    "is_blank",
    "is_json",
    "is_object",
    "types",
    "is_fast",
}


def _kind(name: str) -> str:
    return _ENVELOPE_KINDS.get(name) or next(f.kind for f in ALL_FIELDS if f.name == name)


def _transform_type(f: Field) -> str:
    """The type `json_transform` gives a field on the fast path (a count beyond BIGINT becomes
    NULL, as with the per-field rules). DECIMALs are read from their text, as the per-field rules
    read them."""
    if f.kind == "number" and f.sql_type.startswith("DECIMAL"):
        return "VARCHAR"
    return {
        "string": "VARCHAR",
        "count": "BIGINT",
        "integer": "BIGINT",
        "bool": "BOOLEAN",
        "object": "JSON",
        "number": "DOUBLE",
    }[f.kind]


def _decimal_from_text(text: str, json_value: str, sql_type: str) -> str:
    return (
        f"coalesce(try_cast({text} as {sql_type}), "
        f"try_cast(try_cast({json_value} as DOUBLE) as {sql_type}))"
    )


NUMERIC_FIELDS: tuple[Field, ...] = tuple(
    f for f in ALL_FIELDS if f.kind in ("count", "integer", "number")
)

# The columns both paths give every line, in this order (what the reason and the typed columns
# are computed from): JSON types, typed values, numeric values as DOUBLE, the metadata's JSON.
_BASE = "source_file, line_no, line, sentinel_reason, is_blank, is_json, is_object"
_SHARED = ", ".join(
    [_BASE]
    + [_t(n) for n in ALL_PATH_FIELDS]
    + [_x(f.name) for f in ALL_FIELDS]
    + [f"n_{f.name}" for f in NUMERIC_FIELDS]
    + [_x(n) for n in ENVELOPE_REQUIRED]
    + [_v("metadata")]
)


def _slow_path_sql() -> str:
    """The per-field rules: every field extracted as JSON, typed and converted on its own."""
    paths = ", ".join(_q(f'$."{n}"') for n in ALL_PATH_FIELDS)
    extracted = ",\n    ".join(
        f"vals[{i + 1}] as {_v(n)}, json_type(vals[{i + 1}]) as {_t(n)}"
        for i, n in enumerate(ALL_PATH_FIELDS)
    )
    values = ",\n    ".join(
        [f"{_value_expr(f)} as {_x(f.name)}" for f in ALL_FIELDS]
        + [f"try_cast({_v(f.name)} as DOUBLE) as n_{f.name}" for f in NUMERIC_FIELDS]
        + [
            f"case when {_t(n)} = 'VARCHAR' then {_v(n)} ->> '$' end as {_x(n)}"
            for n in ENVELOPE_REQUIRED
        ]
    )
    return f"""
slow_extracted as (
  select *,
    case when sentinel_reason is null and not is_blank and is_object
         then json_extract(line, [{paths}]) end as vals
  from routed where not is_fast
),
slow_fields as (
  select {_BASE},
    {extracted}
  from slow_extracted
),
slow as (
  select {_SHARED} from (
    select *,
      {values}
    from slow_fields
  )
)"""  # noqa: S608 (generated from the contract tables)


def _fast_path_sql() -> str:
    """Lines whose every field has a type of FAST_TYPES: one typed `json_transform` of the line;
    the values equal the per-field rules' values for these types (tests/unit/test_parse_paths.py
    compares both paths line by line)."""
    struct = (
        "{"
        + ", ".join(f'"{n}": "VARCHAR"' for n in ENVELOPE_REQUIRED)
        + ", "
        + ", ".join(f'"{f.name}": "{_transform_type(f)}"' for f in ALL_FIELDS)
        + "}"
    )
    types = ",\n    ".join(f"types[{i + 1}] as {_t(n)}" for i, n in enumerate(ALL_PATH_FIELDS))

    def s(name: str) -> str:  # a field's column of the unnested struct
        return f'"{name}"'

    values = []
    for f in ALL_FIELDS:
        if _transform_type(f) == "VARCHAR" and f.kind == "number":
            values.append(f"{_decimal_from_text(s(f.name), s(f.name), f.sql_type)} as {_x(f.name)}")
        else:
            values.append(f"{s(f.name)} as {_x(f.name)}")
    values += [f"try_cast({s(f.name)} as DOUBLE) as n_{f.name}" for f in NUMERIC_FIELDS]
    values += [f"{s(n)} as {_x(n)}" for n in ENVELOPE_REQUIRED]
    values.append(f"{s('metadata')} as {_v('metadata')}")
    value_list = ",\n    ".join(values)
    # unnested at once: a struct column read field by field is transformed again for each field
    # (and `routed` is materialized for the same reason: each `types[i]` would type the line again)
    return f"""
fast_typed as (
  select *, unnest(json_transform(case when is_fast then line end, {_q(struct)}))
  from routed where is_fast
),
fast as (
  select {_SHARED} from (
    select *,
      {types},
      {value_list}
    from fast_typed
  )
)"""  # noqa: S608 (generated from the contract tables)


def is_fast_sql() -> str:
    """Whether a line takes the fast path, from `types` (its fields' JSON types, in the order of
    ALL_PATH_FIELDS; NULL when the line is not an object)."""
    checks = " and ".join(
        # an absent field has no type (NULL): it takes the path of the line's other fields
        f"coalesce(types[{i + 1}] in {_in_list(FAST_TYPES[_kind(n)])}, true)"
        for i, n in enumerate(ALL_PATH_FIELDS)
    )
    return f"(types is not null and {checks})"


def parse_sql(bounds: TsBounds, fast: bool = True) -> str:
    """SELECT over temp table `lines` giving one row per line with reason and typed columns.
    Lines whose fields all have the expected JSON types take a fast path (one typed transform
    of the line); the others, and every line that breaks a type rule, the per-field rules
    (all lines when not `fast`: the tests compare both)."""
    paths = ", ".join(_q(f'$."{n}"') for n in ALL_PATH_FIELDS)
    columns = []
    for f in ALL_FIELDS:
        if f.name in ("user_id", "metadata", "status", "units"):
            continue
        applies, _ = _types_with(f.name)
        guard = "true" if f in ENVELOPE_OPTIONAL else f"event_type in {_in_list(applies)}"
        # typed values of accepted lines only: a quarantined line's value may not fit its column
        # (a rating of 1e10 is no INTEGER); it keeps its text and its reason
        columns.append(
            f"case when verdict is null and {guard} and {_present(f.name)} then {_x(f.name)} "
            f"end::{f.sql_type} as {f.column}"
        )
    columns.append(
        f"case when verdict is null and {_present('status')} then {_x('status')} "
        "when verdict is null and event_type = 'llm_call' then 'ok' end as status"
    )
    columns.append(
        f"case when verdict is null and event_type = 'api_call' then coalesce({_x('units')}, 1) end"
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
routed_types as (
  select *,
    case when sentinel_reason is null and not is_blank and is_object
         then json_type(line, [{paths}]) end as types
  from objects
),
routed as materialized (
  select *, {is_fast_sql() if fast else "false"} as is_fast
  from routed_types
),{_fast_path_sql()},{_slow_path_sql()},
valued as (
  select * from fast
  union all
  select * from slow
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
