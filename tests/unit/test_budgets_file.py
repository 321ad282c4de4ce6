"""budgets.yaml as the loader reads it: every accepted form gives exactly the budgets meant, and
every rule rejects its breach with the entry and its line (killing the survivors `make mutation`
listed for sources/budgets/config.py)."""

from decimal import Decimal
from pathlib import Path

import pytest

from sources.budgets.config import DEFAULT_THRESHOLDS, Budget, load_budgets
from sources.yaml_lines import ConfigFileError

GOOD = """version: "2026-11"
default_thresholds: [25, 75]
budgets:
  - id: org
    scope: organisation
    period: month
    limit_usd: "60.5"
  - id: one-user
    scope: user
    scope_id: u1
    period: day
    limit_usd: 2
    thresholds: [100, 50, 50]
  - id: calls
    scope: interaction
    period: session
    limit_tokens: 1000
  - id: chats
    scope: session
    period: session
    limit_tokens: 5
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    return path


def test_every_accepted_form_gives_the_budgets_meant(tmp_path):
    version, budgets = load_budgets(_write(tmp_path, GOOD))
    assert version == "2026-11"
    assert budgets == [
        Budget("org", "organisation", None, "month", Decimal("60.5"), None, (25, 75)),
        Budget("one-user", "user", "u1", "day", Decimal(2), None, (50, 100)),
        Budget("calls", "interaction", None, "session", None, 1000, (25, 75)),
        Budget("chats", "session", None, "session", None, 5, (25, 75)),
    ]


def test_without_default_thresholds_the_shipped_ones_apply(tmp_path):
    text = GOOD.replace("default_thresholds: [25, 75]\n", "")
    _, budgets = load_budgets(_write(tmp_path, text))
    assert budgets[0].thresholds == DEFAULT_THRESHOLDS
    assert budgets[1].thresholds == (50, 100)


ENTRY = "  - id: b\n    scope: user\n    period: day\n    limit_usd: 1\n"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (ENTRY + "    colour: red\n", "unknown fields ['colour']"),
        (ENTRY.replace("id: b", "id: ''"), "`id` is required"),
        (ENTRY + ENTRY, "id 'b' is used twice"),
        (ENTRY.replace("scope: user", "scope: team"),
         "scope must be one of organisation, project, api_key, user, session, interaction, not "
         "'team'"),
        (ENTRY.replace("period: day", "period: week"),
         "period must be one of day, month, session, not 'week'"),
        (ENTRY.replace("period: day", "period: session"),
         "period session needs scope session or interaction"),
        (ENTRY + "    limit_tokens: 5\n", "give exactly one of limit_usd and limit_tokens"),
        (ENTRY.replace("    limit_usd: 1\n", ""), "give exactly one of limit_usd and limit_tokens"),
        (ENTRY.replace("limit_usd: 1", "limit_usd: 0"), "limit_usd must be more than 0"),
        (ENTRY.replace("limit_usd: 1", "limit_usd: -1"), "must be a non-negative decimal"),
        (ENTRY + "    thresholds: 50\n", "thresholds must be a list of percentages"),
        (ENTRY + "    thresholds: []\n", "thresholds must be a list of percentages"),
        (ENTRY + "    thresholds: [0, 50]\n", "thresholds must be a list of percentages"),
        (ENTRY + "    thresholds: [1001]\n", "thresholds must be a list of percentages"),
        (ENTRY + "    thresholds: [true]\n", "thresholds must be a list of percentages"),
        (ENTRY.replace("scope: user", "scope: organisation") + "    scope_id: x\n",
         "an organisation budget has no scope_id"),
    ],
)  # fmt: skip
def test_each_rule_names_the_entry_and_its_line(tmp_path, entry, message):
    path = _write(tmp_path, 'version: "1"\nbudgets:\n' + entry)
    with pytest.raises(ConfigFileError) as err:
        load_budgets(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text
    last = entry.count("  - id:") - 1  # the broken entry is the last one
    assert f"budgets[{last}] (line {3 + 4 * last})" in text, text


def test_the_edges_that_are_allowed(tmp_path):
    edges = ENTRY.replace("limit_usd: 1", "limit_usd: 0.000000001") + "    thresholds: [1, 1000]\n"
    _, (budget,) = load_budgets(_write(tmp_path, "version: 1\nbudgets:\n" + edges))
    assert (budget.limit_usd, budget.thresholds) == (Decimal("1e-9"), (1, 1000))


def test_a_file_that_is_not_a_mapping_is_refused_with_what_it_needs(tmp_path):
    path = _write(tmp_path, "- id: b\n")
    with pytest.raises(ConfigFileError, match="needs a top-level `version` and a `budgets` list"):
        load_budgets(path)
