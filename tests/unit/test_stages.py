"""sources/stages.py: seconds per named stage."""

import time

import pytest

from sources.stages import StageClock


def test_a_stage_entered_twice_adds_up_and_a_failing_stage_still_counts():
    clock = StageClock()
    with clock.stage("a"):
        time.sleep(0.02)
    with clock.stage("b"):
        pass
    with clock.stage("a"):
        time.sleep(0.02)
    with pytest.raises(ValueError), clock.stage("c"):
        time.sleep(0.01)
        raise ValueError("boom")
    assert list(clock.seconds) == ["a", "b", "c"]
    assert clock.seconds["a"] >= 0.04
    assert clock.seconds["b"] < clock.seconds["c"] < clock.seconds["a"]
    assert clock.rounded(1)["a"] == round(clock.seconds["a"], 1)


def test_a_mark_is_a_stage_of_no_time_that_keeps_a_timed_stage_of_its_name():
    clock = StageClock()
    clock.mark("below")
    with clock.stage("a"):
        time.sleep(0.01)
    clock.mark("a")
    assert clock.seconds["below"] == 0.0 and clock.seconds["a"] >= 0.01
    assert list(clock.rounded()) == ["below", "a"]
