"""The event contract compiled to SQL: one statement that extracts, types and validates every
field of every line and names its quarantine reason, generated from the contract tables
(sources/events/contract.py). No input value is ever formatted into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sources.events.contract import (
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
from sources.warehouse import literal

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

# the JSON paths of every field, in the order of ALL_PATH_FIELDS (a SQL list's elements)
PATHS_SQL = ", ".join(literal(f'$."{n}"') for n in ALL_PATH_FIELDS)

ALL_FIELDS: tuple[Field, ...] = (*ENVELOPE_OPTIONAL, *FIELDS.values())


def json_col(name: str) -> str:
    return f"v_{name}"


def type_col(name: str) -> str:
    return f"t_{name}"


def value_col(name: str) -> str:
    return f"x_{name}"


def occurred_at_sql(ts: str) -> str:
    """UTC timestamp of a `ts` string (NULL when it breaks the contract's format). The one
    definition, used by the full parse and by the reader's day pass."""
    return (
        f"case when regexp_full_match({ts}, {literal(TS_PATTERN)}) "
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


def present(name: str) -> str:
    return f"({type_col(name)} is not null and {type_col(name)} <> 'NULL')"


def types_with(name: str) -> tuple[list[str], list[str]]:
    """(types where field applies, types where it is required)."""
    applies = [t for t, fs in TYPE_FIELDS.items() if name in fs]
    required = [t for t, fs in TYPE_FIELDS.items() if fs.get(name)]
    return applies, required


def in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _type_ok(f: Field) -> str:
    t = type_col(f.name)
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


def decimal_from_text(text: str, number: str, sql_type: str) -> str:
    """A DECIMAL read from a JSON number's text (exact), else from the number as a double."""
    return (
        f"coalesce(try_cast({text} as {sql_type}), "
        f"try_cast(try_cast({number} as DOUBLE) as {sql_type}))"
    )


def value_expr(f: Field) -> str:
    """Typed value of a field from its JSON value (NULL when it does not convert)."""
    v = json_col(f.name)
    if f.kind == "string":
        return f"case when {type_col(f.name)} = 'VARCHAR' then {v} ->> '$' end"
    if f.kind in ("count", "integer"):
        return f"coalesce(try_cast({v} as BIGINT), try_cast(try_cast({v} as DOUBLE) as BIGINT))"
    if f.kind == "number":
        if f.sql_type.startswith("DECIMAL"):
            return decimal_from_text(f"{v} ->> '$'", v, f.sql_type)
        return f"try_cast({v} as DOUBLE)"
    if f.kind == "bool":
        return f"try_cast({v} as BOOLEAN)"
    return v


def _field_checks(f: Field, type_cond: str, required: bool) -> list[tuple[str, str]]:
    """(condition, reason) pairs for one field, in the order they are tested."""
    checks: list[tuple[str, str]] = []
    pres, x = present(f.name), value_col(f.name)
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
        checks.append((f"{guard} and {x} not in {in_list(f.enum)}", f"invalid_value:{f.name}"))
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
        pres = present(name)
        whens.append(
            (
                f"(not {pres} or ({type_col(name)} = 'VARCHAR' and {value_col(name)} = ''))",
                f"missing_field:{name}",
            )
        )
        whens.append((f"{type_col(name)} <> 'VARCHAR'", f"wrong_type:{name}"))
    whens.append((f"event_type not in {in_list(EVENT_TYPES)}", "unknown_type"))
    whens.append(("occurred_at is null", "invalid_ts"))
    whens.append((f"not {in_bounds_sql('occurred_at', bounds)}", "out_of_range:ts"))
    for f in ENVELOPE_OPTIONAL:
        whens.extend(_field_checks(f, "true", required=False))
    for name, f in FIELDS.items():
        applies, required = types_with(name)
        whens.extend(_field_checks(f, f"event_type in {in_list(applies)}", required=False))
        if required:
            whens.extend(
                (c, r)
                for c, r in _field_checks(f, f"event_type in {in_list(required)}", True)
                if r.startswith("missing_field")
            )
    whens.append(
        (
            f"event_type = 'llm_call' and {present('status')} and {value_col('status')} not in "
            f"{in_list(LLM_STATUS)}",
            "invalid_value:status",
        )
    )
    for suffix, parts, whole in TOKEN_INEQUALITIES:
        lhs = " + ".join(f"coalesce({value_col(p)}, 0)" for p in parts)
        whens.append(
            (
                f"event_type = 'llm_call' and {lhs} > coalesce({value_col(whole)}, 0)",
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
            else literal(r)
        )
        for cond, r in ordered
    )
    return f"case\n{body}\n  end"


def known_keys_sql() -> str:
    branches = " ".join(
        f"when {literal(t)} then [{', '.join(literal(k) for k in sorted(known_keys(t)))}]"
        for t in EVENT_TYPES
    )
    return f"case event_type {branches} end"


TYPED_COLUMNS: tuple[Field, ...] = tuple(
    f for f in ALL_FIELDS if f.name not in ("user_id", "metadata")
)
