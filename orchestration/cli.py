"""`costwatch`: the command-line entry point (shared/contracts/interface.md).

Runs started here execute on the same Dagster instance as the UI ($COSTWATCH_HOME/dagster), so they
show up in the UI with their materializations and check results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from orchestration.demo import cmd_demo
from orchestration.runs import DEFAULT_CHUNK_DAYS, UsageError, run_range
from orchestration.services import SERVICES, cmd_serve, cmd_ui
from sources import settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-21") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days >= 1")
    return value


def check_range(start: dt.date, end: dt.date, today: dt.date | None = None) -> None:
    """The days must be day partitions: from COSTWATCH_START_DATE to today (UTC)."""
    first = settings.start_date()
    today = today or dt.datetime.now(dt.UTC).date()
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    if start < first:
        raise UsageError(
            f"--start {start} is before the first day partition {first} "
            "(COSTWATCH_START_DATE): start later, or set COSTWATCH_START_DATE earlier"
        )
    if end > today:
        raise UsageError(f"--end {end} is after today ({today}, UTC): the last day that can run")


def check_config_files() -> None:
    """Budgets, custom prices and the rate card load (errors name the file and line), and the
    reader's settings are valid, before any run starts."""
    from sources.budgets.config import load_budgets
    from sources.pricing.files import load_custom_prices, load_rate_card

    custom_prices, rate_card, budgets = settings.config_files()
    load_custom_prices(custom_prices)
    load_rate_card(rate_card)
    load_budgets(budgets)
    settings.read_limits()


def _cmd_run(args: argparse.Namespace) -> int:
    check_range(args.start, args.end)
    check_config_files()
    outcomes = run_range(
        args.start, args.end, args.chunk_days, accept_removed_files=args.accept_removed_files
    )
    return 0 if all(o.success for o in outcomes) else 1


def _cmd_report(args: argparse.Namespace) -> int:
    import duckdb

    from sources.publishing.report import write_report

    s = settings.apply()
    if not s.published.exists():
        print(
            f"costwatch report: {s.published} does not exist yet; run `costwatch demo` or "
            "`costwatch run` first",
            file=sys.stderr,
        )
        return 2
    with duckdb.connect(str(s.published), read_only=True) as con:
        path = write_report(con, args.out or s.report)
    print(f"wrote {path.resolve()}")
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    from sources.publishing.query import QueryError, run_query

    s = settings.apply()
    try:
        run_query(s.published, args.query, as_csv=args.csv, max_rows=args.max_rows)
    except QueryError as exc:
        print(f"costwatch sql: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sources.publishing.export import ExportError, export_relation

    s = settings.apply()
    if args.start and args.end and args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    suffix = f"_{args.start or 'start'}_{args.end or 'end'}" if args.start or args.end else ""
    ext = {"json": "jsonl"}.get(args.format, args.format)
    out = args.out or s.home / "exports" / f"{args.relation}{suffix}.{ext}"
    try:
        rows = export_relation(s.published, args.relation, args.format, out, args.start, args.end)
    except ExportError as exc:
        print(f"costwatch export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {rows} rows to {Path(out).resolve()}")
    return 0


def _cmd_guard(args: argparse.Namespace) -> int:
    from sources.guard.server import serve
    from sources.guard.service import Guard

    s = settings.apply()
    token = s.guard_token.get_secret_value() if s.guard_token else None
    guard = Guard.from_settings(s)
    try:
        server = serve(guard, args.host, args.port, token)
    except (PermissionError, OSError) as exc:
        guard.close()
        raise UsageError(str(exc)) from None
    health = guard.health()
    state = "verified" if health["verified"] else f"UNVERIFIED ({health['reasons'][0]})"
    print(
        f"costwatch guard: http://{args.host}:{server.server_port}/v1/check  "
        f"{health['budgets']} budgets from {s.budgets}; spend {state}; "
        f"when spend cannot be verified: {s.guard_unverified}; "
        f"token {'required' if token else 'not required'}",
        flush=True,
    )
    try:
        server.run()
    finally:
        guard.close()
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from sources.otel.receiver import serve

    s = settings.apply()
    token = s.collect_token.get_secret_value() if s.collect_token else None
    try:
        server = serve(s.events_dir, args.host, args.port, token)
    except (PermissionError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(
        f"costwatch collect: OTLP/HTTP traces at http://{args.host}:{server.server_port}/v1/traces "
        f"-> {s.events_dir / 'otlp'}; token {'required' if token else 'not required'}",
        flush=True,
    )
    server.run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="costwatch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sample data end to end, no keys and no network needed")
    demo.add_argument("--days", type=int, default=7, help="days of sample data (default 7)")
    demo.add_argument("--users", type=int, default=40, help="sample users (default 40)")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="materialize every asset and check for a range of days")
    run.add_argument("--start", type=_date, required=True, help="first UTC day, YYYY-MM-DD")
    run.add_argument("--end", type=_date, required=True, help="last UTC day (inclusive)")
    run.add_argument(
        "--chunk-days",
        type=_positive,
        default=DEFAULT_CHUNK_DAYS,
        help=f"days per run (default {DEFAULT_CHUNK_DAYS})",
    )
    run.add_argument(
        "--accept-removed-files",
        action="store_true",
        help=(
            "let reruns drop stored events whose files are gone or shorter (deleted logs); "
            "without it such a rerun fails and changes nothing"
        ),
    )
    run.set_defaults(func=_cmd_run)

    report = sub.add_parser("report", help="write the HTML report of the current warehouse")
    report.add_argument("--out", type=Path, help="file to write (default $COSTWATCH_REPORT)")
    report.set_defaults(func=_cmd_report)

    export = sub.add_parser("export", help="export a published relation (streams, any size)")
    export.add_argument("relation", help="e.g. marts.interactions (or just interactions)")
    export.add_argument("--format", choices=["csv", "json", "parquet"], default="csv")
    export.add_argument("--start", type=_date, help="first day (by the relation's day column)")
    export.add_argument("--end", type=_date, help="last day (inclusive)")
    export.add_argument(
        "--out", type=Path, help="file to write (default under $COSTWATCH_HOME/exports)"
    )
    export.set_defaults(func=_cmd_export)

    sql = sub.add_parser(
        "sql", help="query the analysts' published copy (read-only), print a table or CSV"
    )
    sql.add_argument("query", help='e.g. "select * from marts.daily_totals order by day"')
    sql.add_argument("--csv", action="store_true", help="CSV with a header instead of a table")
    sql.add_argument(
        "--max-rows", type=_positive, default=100, help="rows shown in a table (default 100)"
    )
    sql.set_defaults(func=_cmd_sql)

    ui = sub.add_parser("ui", help="start the Dagster webserver and daemon")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ui.set_defaults(func=cmd_ui)

    serve = sub.add_parser(
        "serve",
        help="run one Dagster service for a team (docs/operating.md, Running it for a team)",
    )
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_positive, help="webserver 3000, code-server 4266 (the daemon has none)"
    )
    serve.set_defaults(func=cmd_serve)

    guard = sub.add_parser(
        "guard", help="pre-call budget decisions over HTTP: POST /v1/check (docs/guard.md)"
    )
    guard.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    guard.add_argument("--port", type=int, default=8787, help="port (default 8787; 0: any free)")
    guard.set_defaults(func=_cmd_guard)

    collect = sub.add_parser(
        "collect",
        help="OTLP/HTTP trace receiver: spans become events (docs/opentelemetry.md)",
    )
    collect.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    collect.add_argument("--port", type=int, default=4318, help="port (default 4318; 0: any free)")
    collect.set_defaults(func=_cmd_collect)
    return p


def main(argv: list[str] | None = None) -> int:
    from sources.warehouse import WarehouseUnavailable
    from sources.yaml_lines import ConfigFileError

    args = build_parser().parse_args(argv)
    try:
        settings.apply()
        return int(args.func(args) or 0)
    except (WarehouseUnavailable, UsageError, settings.SettingError, ConfigFileError) as exc:
        print(f"costwatch {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
