"""genai-prices' online update, served by a local HTTP server in genai-prices' published format:
fetched prices replace the bundled ones, the dbt snapshot records the change, and a failed update
keeps the last good prices with a warning instead of failing the run or flapping back."""

import datetime as dt
import json
import os
import subprocess
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from genai_prices import data_snapshot

from assets.pricing.prices import LLM_PRICES, load_prices
from assets.resources import ConfigFilesResource, WarehouseResource
from sources.dbt_process import DBT_EXECUTABLE
from sources.settings import DBT_PROJECT_DIR, REPO_ROOT

# genai-prices' raw provider list (the shape of its data.json): one provider, two models.
PAYLOAD = [
    {
        "id": "openai",
        "name": "OpenAI",
        "api_pattern": "https://api\\.openai\\.com",
        "models": [
            {
                "id": "gpt-4o",
                "match": {"or": [{"equals": "gpt-4o"}]},
                "prices": {"input_mtok": "3", "cache_read_mtok": "1.5", "output_mtok": "12"},
            },
            {
                "id": "gpt-new-1",
                "match": {"equals": "gpt-new-1"},
                "prices": {"input_mtok": "0.7", "output_mtok": "2.8"},
            },
        ],
    }
]


class PriceServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_GET(self):
                outer.requests += 1
                body = json.dumps(outer.payload, **outer.dumps).encode()
                body = body if outer.status == 200 else b"down"
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        self.status = 200
        self.requests = 0
        self.payload: list = PAYLOAD
        self.dumps: dict = {}  # json.dumps options: the same data in other bytes
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        # A token in the query string stands for a URL that carries a secret.
        return f"http://127.0.0.1:{self.server_address[1]}/data.json?token=sekrit-price-token"


@pytest.fixture
def server():
    s = PriceServer()
    yield s
    s.shutdown()
    s.server_close()


def _refresh(warehouse: Path, url: str) -> dg.ExecuteInProcessResult:
    files = ConfigFilesResource(
        custom_prices=str(REPO_ROOT / "custom_prices.yaml"),
        rate_card=str(REPO_ROOT / "rate_card.yaml"),
        budgets=str(REPO_ROOT / "budgets.yaml"),
        prices_url=url,
    )
    result = dg.materialize(
        [load_prices],
        resources={"duckdb": WarehouseResource(database=str(warehouse)), "config_files": files},
    )
    assert result.success
    return result


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _genai_prices(warehouse: Path) -> dict[str, tuple[Decimal, Decimal, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select model_id, input_base, output_base, pricing_source_version from raw.llm_prices "
            "where source = 'genai-prices' and provider_id = 'openai' and context_key is null "
            "and valid_to is null and seconds_from = 0"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _snapshot(warehouse: Path, tmp: Path) -> None:
    args = ["snapshot", "--select", "llm_prices_snapshot", "--project-dir", str(DBT_PROJECT_DIR)]
    args += ["--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp / "target")]
    proc = subprocess.run(
        [DBT_EXECUTABLE, *args, "--log-path", str(tmp / "logs")],
        env={**os.environ, "COSTWATCH_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def _bundled_per_token(model: str, key: str) -> Decimal:
    """gpt-4o's current price in the bundled data, read from genai-prices itself."""
    info = data_snapshot.get_snapshot().find_provider_model(model, None, "openai", None)[1]
    prices = info.get_prices(dt.datetime.now(dt.UTC))
    return getattr(prices, key) / 1_000_000


def test_update_replaces_prices_and_the_snapshot_records_the_change(tmp_path, server):
    warehouse = tmp_path / "warehouse.duckdb"
    bundled = _refresh(warehouse, "")
    assert _check(bundled, "price_update_succeeded").passed
    before = _genai_prices(warehouse)
    assert before["gpt-4o"][0] == _bundled_per_token("gpt-4o", "input_mtok")
    assert "gpt-new-1" not in before
    _snapshot(warehouse, tmp_path)

    fetched = _refresh(warehouse, server.url)
    assert server.requests == 1
    assert _check(fetched, "price_update_succeeded").passed
    after = _genai_prices(warehouse)
    assert {m: p[:2] for m, p in after.items()} == {
        "gpt-4o": (Decimal(3) / 10**6, Decimal(12) / 10**6),
        "gpt-new-1": (Decimal("0.7") / 10**6, Decimal("2.8") / 10**6),
    }
    version = after["gpt-4o"][2]
    assert version.startswith("genai-prices=") and "+data:" in version
    meta = fetched.asset_materializations_for_node("load_prices")
    (llm,) = [m for m in meta if m.asset_key == LLM_PRICES]
    assert llm.metadata["genai_prices_data"].value == f"fetched from {server.url.split('/')[2]}"

    _snapshot(warehouse, tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        history = con.execute(
            "select input_base, dbt_valid_to is null from snapshots.llm_prices_snapshot "
            "where source = 'genai-prices' and provider_id = 'openai' and model_id = 'gpt-4o' "
            "and context_key is null and valid_to is null and seconds_from = 0 "
            "order by dbt_valid_from"
        ).fetchall()
        gone = con.execute(
            "select count(*) from snapshots.llm_prices_snapshot "
            "where model_id = 'gpt-4o-mini' and dbt_valid_to is null"
        ).fetchall()[0][0]
    # the old price is closed, the fetched one is current; models the update dropped are closed
    assert history == [(before["gpt-4o"][0], False), (Decimal(3) / 10**6, True)]
    assert gone == 0


def test_failed_update_keeps_the_last_good_prices_and_warns(tmp_path, server):
    warehouse = tmp_path / "warehouse.duckdb"
    _refresh(warehouse, server.url)
    good = _genai_prices(warehouse)

    server.status = 503
    result = _refresh(warehouse, server.url)
    check = _check(result, "price_update_succeeded")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    error = check.metadata["error"].value
    assert "HTTP 503" in error and "sekrit" not in error
    assert check.metadata["genai_prices_data"].value == "kept from the last update"
    assert _genai_prices(warehouse) == good  # no flapping back to the bundled data


def test_failed_first_update_uses_the_bundled_data(tmp_path, server):
    warehouse = tmp_path / "warehouse.duckdb"
    server.status = 404
    result = _refresh(warehouse, server.url)
    check = _check(result, "price_update_succeeded")
    assert not check.passed
    assert check.metadata["genai_prices_data"].value == "bundled"
    prices = _genai_prices(warehouse)
    assert prices["gpt-4o"][0] == _bundled_per_token("gpt-4o", "input_mtok")
    assert "+data:" not in prices["gpt-4o"][2]


def test_an_unchanged_upstream_changes_nothing(tmp_path, server):
    """README: fetched data "is versioned by content, so an unchanged upstream changes nothing":
    the same data served again (in other bytes: indented, keys sorted) leaves the price table,
    its version and the snapshot's history exactly as they were; one changed price changes the
    version and adds one snapshot row."""
    warehouse = tmp_path / "warehouse.duckdb"

    def state() -> tuple[list, list]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            prices = con.execute("select * from raw.llm_prices order by price_row_id").fetchall()
            history = con.execute(
                "select * exclude (dbt_updated_at) from snapshots.llm_prices_snapshot "
                "order by dbt_scd_id"
            ).fetchall()
        return prices, history

    _refresh(warehouse, server.url)
    _snapshot(warehouse, tmp_path)
    first = state()
    server.dumps = {"indent": 2, "sort_keys": True}
    _refresh(warehouse, server.url)
    _snapshot(warehouse, tmp_path)
    assert server.requests == 2
    assert state() == first

    changed = json.loads(json.dumps(PAYLOAD))
    changed[0]["models"][1]["prices"]["output_mtok"] = "2.9"
    server.payload = changed
    _refresh(warehouse, server.url)
    _snapshot(warehouse, tmp_path)
    prices, history = state()
    assert {r[-1] for r in prices} != {r[-1] for r in first[0]}  # pricing_source_version
    # the snapshot records which prices changed: gpt-new-1 alone gets a new version
    assert len(history) == len(first[1]) + 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        versions = con.execute(
            "select model_id, output_base, dbt_valid_to is null from snapshots.llm_prices_snapshot "
            "where source = 'genai-prices' order by model_id, dbt_valid_from"
        ).fetchall()
    assert versions == [
        ("gpt-4o", Decimal(12) / 10**6, True),
        ("gpt-new-1", Decimal("2.8") / 10**6, False),
        ("gpt-new-1", Decimal("2.9") / 10**6, True),
    ]


def test_the_snapshot_compares_every_price_column_but_the_source_version():
    """The snapshot's check_cols are raw.llm_prices' columns but its key and the whole-source
    version; a price column added to the table without being compared fails here."""
    import yaml

    from sources.pricing.store import ROW_COLUMNS, price_column_names

    (snapshot,) = yaml.safe_load((DBT_PROJECT_DIR / "snapshots" / "price_history.yml").read_text())[
        "snapshots"
    ]
    expected = [c for c in ROW_COLUMNS if c != "price_row_id"] + price_column_names()
    assert snapshot["config"]["check_cols"] == expected
