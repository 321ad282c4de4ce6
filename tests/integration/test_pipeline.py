"""End to end: generated logs -> ingestion -> dbt -> marts -> published copy, by real Dagster runs.

Every expected number is computed here from the generator's ledger, not from the pipeline's SQL.
"""

import datetime as dt
import math
import subprocess
import sys
from collections import Counter, defaultdict

import dagster as dg
import duckdb
import pytest

from assets.dbt import REUSED_PARSE
from sources.events.contract import INTERACTION_TYPES
from sources.publishing.publish import publish_method
from tests.conftest import Home, make_home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

# Columns that record when a row was written, not what it says: left out of comparisons.
VOLATILE = {"monthly_close": ("monthly_close_id", "recorded_at")}


def _interactions(home: Home) -> list[dict]:
    return [e for e in home.ledger.events.values() if e["type"] in INTERACTION_TYPES]


def _quantile_cont(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (the definition of SQL quantile_cont)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _snapshot(home: Home, published: bool = False) -> dict[str, list[tuple]]:
    """Every mart (all of them, whatever is added later), row for row."""
    marts = [
        t
        for (t,) in home.query(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' order by 1",
            published=published,
        )
    ]
    assert len(marts) >= 14, marts
    out = {}
    for m in marts:  # names from the catalog
        drop = f" exclude ({', '.join(VOLATILE[m])})" if m in VOLATILE else ""
        out[m] = home.query(f"select *{drop} from marts.{m} order by all", published=published)  # noqa: S608
    return out


def test_line_accounting_per_day_and_file(built_home: Home):
    rows = built_home.query(
        "select event_day, sum(lines_read), sum(accepted), sum(duplicates), sum(quarantined), "
        "sum(blank) from raw.event_file_stats group by 1 order by 1"
    )
    got = {
        d: dict(
            zip(
                ("lines_read", "accepted", "duplicates", "quarantined", "blank"),
                map(int, c),
                strict=True,
            )
        )
        for d, *c in rows
    }
    assert got == {d: built_home.ledger.line_counts(d) for d in built_home.days}
    per_file = Counter(r.source_file for r in built_home.ledger.lines)
    assert dict(
        built_home.query(
            "select source_file, sum(lines_read)::INT from raw.event_file_stats group by 1"
        )
    ) == dict(per_file)


def test_every_invalid_category_is_quarantined_with_its_reason(built_home: Home):
    got = dict(built_home.query("select reason, count(*) from raw.event_quarantine group by 1"))
    assert got == built_home.ledger.quarantine_reasons()
    expected_lines = sorted(
        (r.source_file, r.line_no, r.reason) for r in built_home.ledger.lines if r.kind == "invalid"
    )
    assert (
        built_home.query(
            "select source_file, line_no, reason from raw.event_quarantine order by all"
        )
        == expected_lines
    )


def test_accepted_events_are_exactly_the_ledgers(built_home: Home):
    got = dict(built_home.query("select event_id, occurred_at from raw.app_events"))
    assert got == {k: e["occurred_at"] for k, e in built_home.ledger.events.items()}


def test_sessions_explicit_and_derived(built_home: Home):
    expected = []
    for s in built_home.ledger.sessions().values():
        llm = [e for e in s["events"] if e["type"] == "llm_call"]
        expected.append(
            (
                s["session_day"],
                s["user_id"],
                s["is_derived"],
                s["started_at"],
                s["ended_at"],
                sum(1 for e in s["events"] if e["type"] in INTERACTION_TYPES),
                len(llm),
                sum(e["input_tokens"] for e in llm),
                sum(e["output_tokens"] for e in llm),
            )
        )
    got = built_home.query(
        "select session_day, user_id, is_derived, started_at, ended_at, interaction_count, "
        "llm_call_count, input_tokens, output_tokens from marts.sessions order by all"
    )
    assert got == sorted(expected)
    # Midnight-crossing sessions of both kinds exist and stay on their start day.
    crossing = [g for g in got if g[4].date() != g[0]]
    assert {g[2] for g in crossing} == {True, False}


def test_interactions_per_day_and_type(built_home: Home):
    expected = Counter((e["day"], e["type"]) for e in _interactions(built_home))
    got = built_home.query(
        "select interaction_day, interaction_type, count(*) from marts.interactions group by all"
    )
    assert {(d, t): n for d, t, n in got} == dict(expected)


def test_tokens_per_day_and_canonical_model(built_home: Home):
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in _interactions(built_home):
        if e["type"] == "llm_call":
            acc = expected[(e["day"], e["provider"], e["canonical_model"])]
            acc[0] += e["input_tokens"]
            acc[1] += e["output_tokens"]
            acc[2] += e["cached_input_tokens"]
            acc[3] += 1
    got = built_home.query(
        "select interaction_day, provider, canonical_model, sum(input_tokens)::BIGINT, "
        "sum(output_tokens)::BIGINT, sum(cached_input_tokens)::BIGINT, count(*) "
        "from marts.interactions where interaction_type = 'llm_call' group by all"
    )
    assert {(d, p, m): list(v) for d, p, m, *v in got} == dict(expected)


def test_daily_totals(built_home: Home):
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for e in _interactions(built_home):
        by_day[e["day"]].append(e)
    sessions_per_day = Counter(s["session_day"] for s in built_home.ledger.sessions().values())
    rows = built_home.query(
        "select day, active_users, session_count, interaction_count, llm_call_count, "
        "llm_latency_p50_ms, llm_latency_p95_ms, llm_latency_p99_ms, llm_error_rate, "
        "cache_hit_rate from marts.daily_totals order by day"
    )
    assert [r[0] for r in rows] == built_home.days
    for day, users, sessions, interactions, llm_calls, p50, p95, p99, err, hit in rows:
        evs = by_day[day]
        llm = [e for e in evs if e["type"] == "llm_call"]
        durations = [e["duration_ms"] for e in llm]
        assert users == len({e["user_id"] for e in evs})
        assert sessions == sessions_per_day[day]
        assert (interactions, llm_calls) == (len(evs), len(llm))
        assert p50 == pytest.approx(_quantile_cont(durations, 0.5), abs=1e-9)
        assert p95 == pytest.approx(_quantile_cont(durations, 0.95), abs=1e-9)
        assert p99 == pytest.approx(_quantile_cont(durations, 0.99), abs=1e-9)
        assert err == pytest.approx(sum(e["status"] == "error" for e in llm) / len(llm))
        cached = sum(e["cached_input_tokens"] for e in llm)
        assert hit == pytest.approx(cached / sum(e["input_tokens"] for e in llm))


def test_user_lifetime_figures(built_home: Home):
    sessions = built_home.ledger.sessions().values()
    expected = {}
    for user in {e["user_id"] for e in built_home.ledger.events.values()}:
        evs = [e for e in built_home.ledger.events.values() if e["user_id"] == user]
        expected[user] = (
            min(e["occurred_at"] for e in evs),
            max(e["occurred_at"] for e in evs),
            sum(1 for s in sessions if s["user_id"] == user),
            sum(1 for e in evs if e["type"] in INTERACTION_TYPES),
        )
    got = built_home.query(
        "select user_id, first_seen_at, last_seen_at, lifetime_sessions, lifetime_interactions "
        "from marts.user_stats"
    )
    assert {u: tuple(v) for u, *v in got} == expected


def test_published_copy_matches_the_warehouse(built_home: Home):
    assert _snapshot(built_home, published=True) == _snapshot(built_home)
    assert built_home.query(
        "select count(*) from raw.event_quarantine", published=True
    ) == built_home.query("select count(*) from raw.event_quarantine")


def _sessions_seen_by_a_new_reader(home: Home) -> int:
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.execute('select count(*) from marts.sessions').fetchone()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(home.published)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return int(out.stdout)


def test_reruns_leave_marts_unchanged_and_reader_does_not_block(built_home: Home):
    before = _snapshot(built_home)
    sessions_before = len(before["sessions"])
    middle = built_home.days[1]
    # An analyst keeps a read-only connection to the published copy open during the next runs.
    reader = duckdb.connect(str(built_home.published), read_only=True)
    late = built_home.root / "events" / "late" / "one-more-session.jsonl"
    try:
        # a late session changes the middle day: the open reader keeps the previous copy
        late.parent.mkdir(parents=True, exist_ok=True)
        late.write_text(
            '{"event_id": "late-1", "type": "compute", "user_id": "late-user", '
            f'"session_id": "late-session", "ts": "{middle}T12:00:00Z", "duration_ms": 5}}\n'
        )
        assert [o.success for o in built_home.run(middle, middle)] == [True]
        # (another process: in this one DuckDB hands a new connection the open reader's file)
        assert _sessions_seen_by_a_new_reader(built_home) == sessions_before + 1
        # the user's lifetime figures got their first version in the snapshot
        assert built_home.query(
            "select count(*) from snapshots.user_stats_snapshot "
            "where user_id = 'late-user' and dbt_valid_to is null"
        ) == [(1,)]
        assert reader.execute("select count(*) from marts.sessions").fetchone()[0] == (
            sessions_before
        )
        # taken away again (on purpose: the run is told so), a second backfill of the whole
        # range leaves every mart as before
        late.unlink()
        outcomes = built_home.run(
            built_home.days[0], built_home.days[-1], accept_removed_files=True
        )
        assert [o.success for o in outcomes] == [True]
        assert _snapshot(built_home) == before
        # the snapshot keeps that version, closed (hard deletes invalidate); nobody else changed
        assert built_home.query(
            "select count(*), count(dbt_valid_to) from snapshots.user_stats_snapshot "
            "where user_id = 'late-user'"
        ) == [(1, 1)]
        assert built_home.query(
            "select count(*) from (select user_id from snapshots.user_stats_snapshot "
            "where user_id <> 'late-user' group by 1 having count(*) > 1)"
        ) == [(0,)]
        assert reader.execute("select count(*) from marts.sessions").fetchone()[0] == (
            sessions_before
        )
    finally:
        reader.close()
        late.unlink(missing_ok=True)
    assert _snapshot(built_home, published=True) == before


def test_day_by_day_runs_equal_one_range_run(built_home: Home, tmp_path_factory):
    """The daily schedule's incremental builds give the same marts as one build of the range: a
    first run, then a run of the next day on top of it (one run less than a run per day: the
    second daily run on top would take the same paths as the first)."""
    daily = make_home(tmp_path_factory.mktemp("daily"))
    *earlier, last = daily.days
    assert [o.success for o in daily.run(earlier[0], earlier[-1])] == [True]
    outcomes = daily.run(last, last)
    assert [o.success for o in outcomes] == [True]
    assert _snapshot(daily) == _snapshot(built_home)
    # the second run of a home reuses the parse of the dbt project its first run saved (another
    # home's dbt runs in between, in this suite, have other profiles)
    with daily.active(), dg.DagsterInstance.get() as instance:
        notes = [
            r.user_message
            for r in instance.all_logs(outcomes[0].run_id)
            if not r.is_dagster_event and r.user_message.startswith(("dbt parsed", "dbt reused"))
        ]
    assert notes == [REUSED_PARSE]
    # after the first day, each run's publish refreshes only the days it changed
    assert publish_method(daily.published) == "changed days"
    assert _snapshot(daily, published=True) == _snapshot(built_home, published=True)
