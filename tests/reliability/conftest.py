"""Fixtures shared with the unit tests."""

from tests.unit.test_providers import server  # noqa: F401 (the fake provider server fixture)
