"""Pseudonymisation of the published copy (COSTWATCH_PII_KEY): which columns are user-derived and
the keyed SQL expressions that replace them. The key is only ever a bound parameter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from sources.warehouse import ident, table_columns

PSEUDONYM = "'u_' || left(sha256($pii_key || '|' || {col}), 20)"


def user_pseudonym(pii_key: str, user_id: str) -> str:
    """PSEUDONYM of one user id, in Python (the guard looks users up by it)."""
    return "u_" + hashlib.sha256(f"{pii_key}|{user_id}".encode()).hexdigest()[:20]


USER_COLUMNS = ("user_id", "x_user_id")

SESSION_COLUMNS = ("session_id", "x_session_id")

# A derived session id is a hash of the user and a start time that is published too: keyed, it
# cannot be recomputed from candidate user ids. Logged session ids are the application's own.
SESSION_PSEUDONYM = (
    "case when {col} like 'derived-%' "
    "then 'derived-' || left(sha256($pii_key || '|session|' || {col}), 32) else {col} end"
)

# Ids that are unkeyed hashes of user-derived values (dbt snapshots' md5 of the user id and a
# time; an alert's hash of its scope id): keyed, so they carry nothing a guess can confirm.
KEYED_IDS = {"dbt_scd_id": 32, "alert_id": 24}

# The budget sensor reads the published copy: a scope id the warehouse could not map back to a
# real id (raised under another key) stays the pseudonym it is, never pseudonymised twice.
FINGERPRINT_COLUMN = "pseudonym_fingerprint"


def _keyed(col: str, purpose: str, length: int) -> str:
    return f"left(sha256($pii_key || '|{purpose}|' || {col}), {length})"


def _scope_pseudonym(q: str, columns: list[str]) -> str:
    expr = (
        f"case when scope = 'user' then {PSEUDONYM.format(col=q)} "
        f"when scope = 'session' then {SESSION_PSEUDONYM.format(col=q)} else {q} end"
    )
    if FINGERPRINT_COLUMN in columns:
        return f"case when {FINGERPRINT_COLUMN} <> '' then {q} else {expr} end"
    return expr


def _allowed_metadata(q: str) -> str:
    """Only the allowed top-level keys of a JSON object (COSTWATCH_PUBLISHED_METADATA_KEYS)."""
    return (
        f"case when {q} is not null then to_json(map_from_entries(list_transform("
        f"list_filter(json_keys({q}), lambda k: list_contains($metadata_keys::VARCHAR[], k)), "
        f"lambda k: struct_pack(key := k, value := json_extract({q}, '$.\"' || k || '\"')))))"
        " end"
    )


def select_list(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    pseudonymise: bool,
    metadata_keys: tuple[str, ...] = (),
) -> str:
    """Columns to publish. With pseudonymisation no published value is an unkeyed function of a
    user id: user ids become keyed hashes, derived session ids and hash ids are keyed, metadata
    keeps only the allowed keys (none by default) and raw quarantined lines are hidden."""
    if not pseudonymise:
        return "*"
    columns = list(table_columns(con, schema, table))
    out = []
    for c in columns:
        q = ident(c)
        if c in USER_COLUMNS:
            out.append(f"{PSEUDONYM.format(col=q)} as {q}")
        elif c in SESSION_COLUMNS:
            out.append(f"{SESSION_PSEUDONYM.format(col=q)} as {q}")
        elif c == "scope_id" and "scope" in columns:
            out.append(f"{_scope_pseudonym(q, columns)} as {q}")
        elif c in KEYED_IDS:
            out.append(f"{_keyed(q, c, KEYED_IDS[c])} as {q}")
        elif c == "metadata":
            out.append(f"{_allowed_metadata(q) if metadata_keys else 'NULL::JSON'} as {q}")
        elif c == "raw_line":
            out.append(f"'(hidden: COSTWATCH_PII_KEY is set)' as {q}")
        else:
            out.append(q)
    return ", ".join(out)


def key_fingerprint(pii_key: str | None) -> str:
    """Tells whether the published copy was pseudonymised with the same key (never the key)."""
    if not pii_key:
        return ""
    return hashlib.sha256(f"costwatch-publish-fingerprint|{pii_key}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Pseudonymisation:
    """The key (a secret: only ever a bound parameter) and the metadata keys to publish."""

    pii_key: str | None
    metadata_keys: tuple[str, ...]

    def params(self, select: str) -> dict:
        """The bound parameters a select list uses."""
        values = {"pii_key": self.pii_key, "metadata_keys": list(self.metadata_keys)}
        return {k: v for k, v in values.items() if f"${k}" in select}
