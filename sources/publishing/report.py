"""The self-contained HTML report (plotly), built from a warehouse connection.

One function serves the Dagster asset (reading the warehouse inside a run) and `costwatch report`
(reading the published copy). plotly.js is inlined once, so the file opens offline.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

CATEGORIES = (
    ("ai_tokens_cost_usd", "AI tokens"),
    ("db_ops_cost_usd", "DB operations"),
    ("api_calls_cost_usd", "API calls"),
    ("compute_cost_usd", "Compute"),
    ("other_cost_usd", "Other"),
)


# One encoding for money everywhere: US dollars with cents.
USD_AXIS = {"title": {"text": "USD"}, "tickprefix": "$", "tickformat": ",.2f"}
DAY_AXIS = {"title": {"text": "day (UTC)"}}
# A budget's colours: under its first warning threshold, between it and 100%, at or over 100%.
BUDGET_OK, BUDGET_WARN, BUDGET_OVER = "#2ca02c", "#ff7f0e", "#d62728"
BUDGET_BANDS = {BUDGET_OK: "#e5f5e0", BUDGET_WARN: "#fdebd0", BUDGET_OVER: "#fadbd8"}


def budget_colour(pct_used: float, thresholds: list[int]) -> str:
    """Green under the budget's first warning threshold, amber from it, red at or over 100%."""
    warnings = [t for t in thresholds if t < 100]
    if pct_used >= 100:
        return BUDGET_OVER
    if warnings and pct_used >= min(warnings):
        return BUDGET_WARN
    return BUDGET_OK


def _figure_html(fig: go.Figure, top_margin: int = 50) -> str:
    fig.update_layout(
        margin={"l": 40, "r": 20, "t": top_margin, "b": 40}, height=380, template="plotly_white"
    )
    return fig.to_html(full_html=False, include_plotlyjs=False)


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = $s and table_name = $t",
            {"s": schema, "t": table},
        ).fetchall()[0][0]
    )


def _daily_cost(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    df = con.sql("select * from marts.daily_totals order by day").df()
    fig = go.Figure(
        [go.Bar(x=df["day"], y=df[col].astype(float), name=label) for col, label in CATEGORIES]
    )
    fig.update_layout(
        barmode="stack", title="Daily cost by category (USD)", yaxis=USD_AXIS, xaxis=DAY_AXIS
    )
    return fig


def _cost_by_model(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    """Over every day of the report (model_daily is not archived), as the header's totals."""
    if not _has(con, "marts", "model_daily"):
        return None
    df = con.sql(
        """
        select coalesce(canonical_model, '(none)') as model, sum(cost_usd) as cost,
               sum(calls) as calls, bool_or(unpriced_calls > 0) as unpriced
        from marts.model_daily
        group by 1 order by cost desc, model
        """
    ).df()
    labels = [
        f"{m} (no price)" if u else m for m, u in zip(df["model"], df["unpriced"], strict=True)
    ]
    fig = go.Figure(go.Bar(x=labels, y=df["cost"].astype(float), text=df["calls"], name="cost"))
    fig.update_layout(
        title="AI token cost by model (USD; bar label: calls)",
        yaxis=USD_AXIS,
        xaxis={"title": {"text": "canonical model"}},
    )
    return fig


def _top_users(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    df = con.sql(
        "select user_id, lifetime_cost_usd from marts.user_stats "
        "order by lifetime_cost_usd desc, user_id limit 15"
    ).df()
    fig = go.Figure(
        go.Bar(x=df["lifetime_cost_usd"].astype(float), y=df["user_id"], orientation="h")
    )
    fig.update_layout(
        title="Top users by cost (USD)",
        yaxis={"autorange": "reversed", "title": {"text": "user"}},
        xaxis=USD_AXIS,
    )
    return fig


def _top_sessions(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        "select session_id, user_id, session_day, interaction_count, total_cost_usd "
        "from marts.sessions order by total_cost_usd desc, session_id limit 10"
    ).fetchall()
    head = (
        "<tr><th>session</th><th>user</th><th>day</th><th>interactions</th><th>cost (USD)</th></tr>"
    )
    body = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{html.escape(u)}</td><td>{d}</td><td>{n}</td>"
        f"<td>${c:,.2f}</td></tr>"
        for s, u, d, n, c in rows
    )
    return f"<h2>Top sessions by cost</h2><table>{head}{body}</table>"


def _latency(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    df = con.sql(
        "select day, llm_latency_p50_ms, llm_latency_p95_ms, llm_latency_p99_ms, cache_hit_rate "
        "from marts.daily_totals order by day"
    ).df()
    fig = go.Figure(
        [
            go.Scatter(x=df["day"], y=df[c], name=c.split("_")[-2], mode="lines+markers")
            for c in ("llm_latency_p50_ms", "llm_latency_p95_ms", "llm_latency_p99_ms")
        ]
    )
    fig.add_trace(
        go.Scatter(
            x=df["day"],
            y=df["cache_hit_rate"],
            name="cache hit rate",
            yaxis="y2",
            mode="lines",
            line={"dash": "dot"},
        )
    )
    fig.update_layout(
        title="LLM latency percentiles (ms) and cache hit rate",
        xaxis=DAY_AXIS,
        yaxis={"title": {"text": "ms"}},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "tickformat": ".0%",
            "title": {"text": "cache hit rate"},
        },
    )
    return fig


def _parity(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    if not _has(con, "marts", "parity_daily"):
        return None
    df = con.sql(
        """
        select day, provider, canonical_model, api_key_id, input_diff_pct, status
        from marts.parity_daily where status not in ('out_of_scope')
        order by day, provider
        """
    ).df()
    fig = go.Figure()
    for provider in sorted(set(df["provider"])):
        part = df[df["provider"] == provider]
        fig.add_trace(
            go.Scatter(
                x=part["day"],
                y=part["input_diff_pct"],
                mode="markers",
                name=provider,
                text=part["canonical_model"]
                + " / "
                + part["api_key_id"].fillna("-")
                + " / "
                + part["status"],
            )
        )
    fig.update_layout(
        title="Parity: app vs provider input tokens, % difference (2% fails)",
        xaxis=DAY_AXIS,
        yaxis={"title": {"text": "% difference"}, "ticksuffix": "%"},
    )
    return fig


def _cache_savings(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    if not _has(con, "marts", "model_daily"):
        return None
    df = con.sql(
        "select day, canonical_model, cache_savings_usd from marts.model_daily "
        "where cache_savings_usd > 0 order by day, canonical_model"
    ).df()
    fig = go.Figure(
        [
            go.Bar(x=part["day"], y=part["cache_savings_usd"].astype(float), name=model)
            for model, part in df.groupby("canonical_model")
        ]
    )
    fig.update_layout(
        barmode="stack",
        title="What prompt caching saved, by model (USD)",
        yaxis=USD_AXIS,
        xaxis=DAY_AXIS,
    )
    return fig


def budget_gauges(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    """One gauge per current budget of the organisation, projects and keys, coloured by the
    budget's own thresholds."""
    if not _has(con, "marts", "budget_status"):
        return None
    rows = con.execute(
        """
        select budget_id, scope_id, pct_used, projected_pct, thresholds from marts.budget_status
        where is_current_period and scope in ('organisation', 'project', 'api_key')
        order by budget_id, scope_id limit 8
        """
    ).fetchall()
    if not rows:
        return None
    fig = go.Figure()
    for i, (budget, scope_id, pct, projected, thresholds) in enumerate(rows):
        top = max(150.0, pct)
        first = min([t for t in thresholds if t < 100], default=100)
        fig.add_trace(
            go.Indicator(
                mode="gauge+number",
                value=round(pct, 1),
                number={"suffix": "%"},
                title={
                    "text": f"{budget}<br><sub>{scope_id}; projected "
                    f"{(projected or 0):.0f}% of the limit</sub>"
                },
                gauge={
                    "axis": {"range": [0, top], "ticksuffix": "%"},
                    "bar": {"color": budget_colour(pct, thresholds)},
                    "steps": [
                        {"range": [0, first], "color": BUDGET_BANDS[BUDGET_OK]},
                        {"range": [first, 100], "color": BUDGET_BANDS[BUDGET_WARN]},
                        {"range": [100, top], "color": BUDGET_BANDS[BUDGET_OVER]},
                    ],
                    "threshold": {"value": 100, "line": {"color": BUDGET_OVER, "width": 3}},
                },
                domain={"row": 0, "column": i},
            )
        )
    fig.update_layout(
        grid={"rows": 1, "columns": len(rows)}, title="Budgets, current period (% of limit)"
    )
    return fig


def spend_against_limit(con: duckdb.DuckDBPyConnection) -> go.Figure | None:
    """What a budget owner asks first: the organisation's spend this period, day by day, against
    its limit, and where the run rate takes it by the period's end."""
    if not _has(con, "marts", "budget_status"):
        return None
    budget = con.execute(
        """
        select budget_id, period, period_start, limit_usd, projected_usd
        from marts.budget_status
        where is_current_period and scope = 'organisation' and limit_usd is not null
        order by budget_id limit 1
        """
    ).fetchall()
    if not budget:
        return None
    budget_id, period, start, limit, projected = budget[0]
    end = (
        (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        if period == "month"
        else start
    )
    days = con.execute(
        "select day, sum(total_cost_usd) over (order by day) from marts.daily_totals "
        "where day between $s and $e order by day",
        {"s": start, "e": end},
    ).fetchall()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[d for d, _ in days], y=[float(c) for _, c in days], name="spend so far",
            mode="lines+markers", line={"color": budget_colour(0, [])},
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[start, end], y=[float(limit), float(limit)], name="limit", mode="lines",
            line={"color": BUDGET_OVER, "dash": "dash"},
        )
    )  # fmt: skip
    if days and projected is not None:
        fig.add_trace(
            go.Scatter(
                x=[days[-1][0], end], y=[float(days[-1][1]), float(projected)],
                name="projection (run rate)", mode="lines",
                line={"color": "#7f7f7f", "dash": "dot"},
            )
        )  # fmt: skip
    fig.update_layout(
        title=f"{budget_id}: spend against limit, {start} to {end} (USD)",
        yaxis=USD_AXIS,
        xaxis=DAY_AXIS,
    )
    return fig


def figures(con: duckdb.DuckDBPyConnection) -> dict[str, go.Figure | None]:
    """Every figure of the report, in order (None where the data is not there yet)."""
    builders = {
        "budget_gauges": budget_gauges,
        "spend_against_limit": spend_against_limit,
        "daily_cost": _daily_cost,
        "cost_by_model": _cost_by_model,
        "top_users": _top_users,
        "parity": _parity,
        "latency": _latency,
        "cache_savings": _cache_savings,
    }
    return {name: build(con) for name, build in builders.items()}


def build_report(con: duckdb.DuckDBPyConnection, generated_at: dt.datetime | None = None) -> str:
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    totals = con.execute(
        "select min(day), max(day), sum(total_cost_usd), sum(interaction_count), "
        "sum(session_count) from marts.daily_totals"
    ).fetchall()[0]
    first, last, cost, interactions, sessions = totals
    figs = figures(con)
    sections = [
        _figure_html(fig, top_margin=160 if name == "budget_gauges" else 50)
        for name, fig in figs.items()
        if fig is not None
    ]
    sections.insert(min(4, len(sections)), _top_sessions(con))
    style = (
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}.kpi{display:flex;gap:2rem}.kpi div{font-size:1.4rem}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Costwatch report</title>"
        f"<style>{style}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Costwatch report</h1><p>{first} to {last} (UTC); generated "
        f"{generated_at:%Y-%m-%d %H:%M} UTC.</p>"
        f"<div class='kpi'><div>Total cost: <b>${(cost or 0):,.2f}</b></div>"
        f"<div>Interactions: <b>{interactions or 0:,}</b></div>"
        f"<div>Sessions: <b>{sessions or 0:,}</b></div></div>"
        + "".join(f"<section>{s}</section>" for s in sections if s)
        + "</body></html>"
    )


def write_report(con: duckdb.DuckDBPyConnection, out: Path) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(build_report(con), encoding="utf-8")
    tmp.replace(out)
    return out
