"""Canonical models come from genai-prices' match rules; unknown names are kept and flagged."""

import duckdb
import pytest

from sources.pricing.model_catalog import map_new_models, resolve_model


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o-mini", ("gpt-4o-mini", True)),
        ("openai", "gpt-4o-mini-2024-07-18", ("gpt-4o-mini", True)),
        ("anthropic", "claude-sonnet-4-5-20250929", ("claude-sonnet-4-5", True)),
        ("anthropic", "claude-sonnet-4-5", ("claude-sonnet-4-5", True)),
        ("openai", "my-private-finetune", ("my-private-finetune", False)),
        ("no-such-provider", "x", ("x", False)),
    ],
)
def test_canonical_model(provider: str, model: str, expected: tuple[str, bool]):
    assert resolve_model(provider, model)[1:] == expected


def test_map_new_models_adds_each_pair_once_and_reports_unknown():
    con = duckdb.connect()
    con.execute(
        "create table seen as select * from (values ('openai', 'gpt-4o-mini'), "
        "('openai', 'gpt-4o-mini-2024-07-18'), ('openai', 'mystery'), ('openai', null)) "
        "t(provider, model)"
    )
    assert map_new_models(con, "select provider, model from seen") == [("openai", "mystery")]
    assert map_new_models(con, "select provider, model from seen") == [("openai", "mystery")]
    rows = con.execute(
        "select model, canonical_model from raw.model_aliases order by model"
    ).fetchall()
    assert rows == [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("mystery", "mystery"),
    ]
