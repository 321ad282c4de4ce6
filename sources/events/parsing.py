"""The event parser: one statement over temp table `lines` that gives every line its reason
(the contract's rules, sources/events/contract_sql.py) and its typed values. Lines whose fields
all have the expected JSON types are typed by one `json_transform` of the line (the fast path);
the others field by field (the per-field rules), which name every type error. Both give a line
the same values (tests/unit/test_parse_paths.py compares them line by line).
"""

from __future__ import annotations

from sources.events.contract import (
    ANONYMOUS_USER,
    ENVELOPE_OPTIONAL,
    ENVELOPE_REQUIRED,
    FIELDS,
    Field,
)
from sources.events.contract_sql import (
    ALL_FIELDS,
    ALL_PATH_FIELDS,
    PATHS_SQL,
    TsBounds,
    decimal_from_text,
    in_list,
    json_col,
    known_keys_sql,
    occurred_at_sql,
    present,
    reason_sql,
    type_col,
    types_with,
    value_col,
    value_expr,
)
from sources.events.tables import EVENT_ID_HASH, event_id_hash_sql
from sources.warehouse import literal

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

# Every name `json_type` gives a JSON value (DuckDB's JSON extension; the parse-paths tests check
# it against a value of each kind). The fast path's routing holds each line's field types as this
# ENUM, a byte each, instead of text: 37 of them a line, materialized for every line of a run.
JSON_TYPES = ("NULL", "BOOLEAN", "BIGINT", "UBIGINT", "DOUBLE", "VARCHAR", "ARRAY", "OBJECT")
JSON_TYPE_ENUM = f"ENUM({', '.join(literal(t) for t in JSON_TYPES)})"
assert {t for kinds in FAST_TYPES.values() for t in kinds} <= set(JSON_TYPES)

_ENVELOPE_KINDS = {name: "string" for name in ENVELOPE_REQUIRED}
# the fast path unnests the fields next to the line's own columns: no field may share a name
assert not {*ALL_PATH_FIELDS} & {
    "source_file",
    "line_no",
    "event_day",
    "line",
    "sentinel_reason",
    "is_blank",
    "is_json",
    "is_object",
    "types",
    "is_fast",
    "known_keys",
    EVENT_ID_HASH,
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


NUMERIC_FIELDS: tuple[Field, ...] = tuple(
    f for f in ALL_FIELDS if f.kind in ("count", "integer", "number")
)

# The columns both paths give every line, in this order (what the reason and the typed columns
# are computed from): JSON types, typed values, numeric values as DOUBLE, the metadata's JSON.
_BASE = "source_file, line_no, event_day, line, sentinel_reason, is_blank, is_json, is_object"
_SHARED = ", ".join(
    [_BASE]
    + [type_col(n) for n in ALL_PATH_FIELDS]
    + [value_col(f.name) for f in ALL_FIELDS]
    + [f"n_{f.name}" for f in NUMERIC_FIELDS]
    + [value_col(n) for n in ENVELOPE_REQUIRED]
    + [json_col("metadata")]
)


def _slow_path_sql() -> str:
    """The per-field rules: every field extracted as JSON, typed and converted on its own."""
    extracted = ",\n    ".join(
        f"vals[{i + 1}] as {json_col(n)}, json_type(vals[{i + 1}]) as {type_col(n)}"
        for i, n in enumerate(ALL_PATH_FIELDS)
    )
    values = ",\n    ".join(
        [f"{value_expr(f)} as {value_col(f.name)}" for f in ALL_FIELDS]
        + [f"try_cast({json_col(f.name)} as DOUBLE) as n_{f.name}" for f in NUMERIC_FIELDS]
        + [
            f"case when {type_col(n)} = 'VARCHAR' then {json_col(n)} ->> '$' end as {value_col(n)}"
            for n in ENVELOPE_REQUIRED
        ]
    )
    return f"""
slow_extracted as (
  select *,
    case when sentinel_reason is null and not is_blank and is_object
         then json_extract(line, [{PATHS_SQL}]) end as vals
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
    types = ",\n    ".join(
        f"types[{i + 1}]::VARCHAR as {type_col(n)}" for i, n in enumerate(ALL_PATH_FIELDS)
    )

    def s(name: str) -> str:  # a field's column of the unnested struct
        return f'"{name}"'

    values = []
    for f in ALL_FIELDS:
        if _transform_type(f) == "VARCHAR" and f.kind == "number":
            values.append(
                f"{decimal_from_text(s(f.name), s(f.name), f.sql_type)} as {value_col(f.name)}"
            )
        else:
            values.append(f"{s(f.name)} as {value_col(f.name)}")
    values += [f"try_cast({s(f.name)} as DOUBLE) as n_{f.name}" for f in NUMERIC_FIELDS]
    values += [f"{s(n)} as {value_col(n)}" for n in ENVELOPE_REQUIRED]
    values.append(f"{s('metadata')} as {json_col('metadata')}")
    value_list = ",\n    ".join(values)
    # unnested at once: a struct column read field by field is transformed again for each field
    # (and `routed` is materialized for the same reason: each `types[i]` would type the line again)
    return f"""
fast_typed as (
  select *, unnest(json_transform(case when is_fast then line end, {literal(struct)}))
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
        f"coalesce(types[{i + 1}] in {in_list(FAST_TYPES[_kind(n)])}, true)"
        for i, n in enumerate(ALL_PATH_FIELDS)
    )
    return f"(types is not null and {checks})"


def parse_sql(bounds: TsBounds, fast: bool = True) -> str:
    """SELECT over temp table `lines` giving one row per line with its day (the line's, from
    `lines`), reason and typed columns.
    Lines whose fields all have the expected JSON types take a fast path (one typed transform
    of the line); the others, and every line that breaks a type rule, the per-field rules
    (all lines when not `fast`: the tests compare both).

    A row keeps its line's text only where a later step reads it: a quarantined line (its raw
    text is quarantined with it) and an accepted line with keys no column holds (they go into
    its metadata). Every other line's text is NULL: the text is most of a row, and the parsed
    lines of a run are held until its write (a day at 100x: 117 MB with every text, 73 MB)."""
    columns = []
    for f in ALL_FIELDS:
        if f.name in ("user_id", "metadata", "status", "units"):
            continue
        applies, _ = types_with(f.name)
        guard = "true" if f in ENVELOPE_OPTIONAL else f"event_type in {in_list(applies)}"
        # typed values of accepted lines only: a quarantined line's value may not fit its column
        # (a rating of 1e10 is no INTEGER); it keeps its text and its reason
        columns.append(
            f"case when verdict is null and {guard} and {present(f.name)} "
            f"then {value_col(f.name)} end::{f.sql_type} as {f.column}"
        )
    columns.append(
        f"case when verdict is null and {present('status')} then {value_col('status')} "
        "when verdict is null and event_type = 'llm_call' then 'ok' end as status"
    )
    columns.append(
        "case when verdict is null and event_type = 'api_call' "
        f"then coalesce({value_col('units')}, 1) end::{FIELDS['units'].sql_type} as units"
    )
    cols = ",\n    ".join(columns)
    return f"""
select * replace (
  case when reason is not null or unknown_key_count > 0 then line end as line
) from (
with shaped as (
  select
    source_file, line_no, event_day, line, sentinel_reason,
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
         then json_type(line, [{PATHS_SQL}])::{JSON_TYPE_ENUM}[] end as types
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
  -- the keys the line's type knows: a column, not inside the lambda below (once per key there)
  select *, {reason_sql(bounds)} as verdict, {known_keys_sql()} as known_keys
  from typed
)
select
  source_file, line_no, event_day, line,
  case when verdict = '__blank__' then null else verdict end as reason,
  coalesce(verdict = '__blank__', false) as is_blank,
  occurred_at,
  case when verdict is null then x_event_id end as event_id,
  -- computed once, here (md5 is most of a write's projection): found by, and stored with, the id
  case when verdict is null then {event_id_hash_sql("x_event_id")} end as {EVENT_ID_HASH},
  event_type,
  x_ts as ts_raw,
  coalesce(x_user_id, {literal(ANONYMOUS_USER)}) as user_id,
  {cols},
  case when t_metadata = 'OBJECT' then v_metadata end as explicit_metadata,
  case when verdict is null
       then len(list_filter(json_keys(line), lambda k: not list_contains(known_keys, k)))
  end as unknown_key_count
from judged
)
"""  # noqa: S608 (generated from the contract tables)
