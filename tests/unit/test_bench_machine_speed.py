"""The bench compares its `read_json` floor with the page before's (benchmarks/run.py): a page
written on a slower machine says so, and the console says it while there is time to stop."""

from benchmarks.run import floor_before, machine_speed

BEFORE = {"results": {"ingest": {"floor_s": 0.2}, "measured_at": "2026-12-01 09:38"}}


def test_the_page_before_gives_its_floor_and_date():
    assert floor_before(BEFORE) == {"floor_s": 0.2, "measured_at": "2026-12-01 09:38"}
    assert floor_before(None) is None
    assert floor_before({"results": {}}) is None  # a page that measured no floor


def test_a_machine_1_5x_slower_or_more_is_named_slower():
    before = floor_before(BEFORE)
    text, slower = machine_speed(0.48, before)
    assert slower
    assert text == (
        "Machine speed: the `read_json` floor took 0.48 s, 2.40x the 0.20 s of the page before "
        "(2026-12-01 09:38 UTC): this machine ran slower, so this page's times are not "
        "comparable with that page's (ratios to the floor are)."
    )
    assert machine_speed(0.30, before)[1]  # exactly 1.5x
    text, slower = machine_speed(0.29, before)
    assert not slower
    assert text == (
        "Machine speed: the `read_json` floor took 0.29 s, 1.45x the 0.20 s of the page before "
        "(2026-12-01 09:38 UTC)."
    )


def test_without_a_page_before_only_the_floor_is_said():
    assert machine_speed(0.2, None) == (
        "Machine speed: the `read_json` floor took 0.20 s (no page before).",
        False,
    )
