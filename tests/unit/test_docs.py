"""The docs stay a true map of the house (issue 21): the README's table names every system
folder, and every setting is documented with its variable."""

import re
from pathlib import Path

from sources.settings import ENV

REPO = Path(__file__).resolve().parents[2]


def test_the_front_page_maps_every_system_folder():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Where things live") : readme.index("## Read next")]
    for top in ("sources", "assets"):
        for folder in sorted(p for p in (REPO / top).iterdir() if p.is_dir()):
            if folder.name.startswith(("_", ".")):
                continue
            assert f"`{folder.name}/`" in table, f"{top}/{folder.name}/ is not in the README's map"


def test_every_page_the_front_page_links_exists():
    readme = (REPO / "README.md").read_text()
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        assert (REPO / link).exists(), link


def test_every_setting_is_documented_with_its_variable():
    operating = (REPO / "docs" / "operating.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)`", operating, re.M))
    documented |= set(re.findall(r"^\| `[A-Z_]+`, `([A-Z_]+)`", operating, re.M))
    internal = {"DAGSTER_HOME"}  # set by `costwatch` itself, from COSTWATCH_HOME
    assert set(ENV.values()) - internal <= documented, set(ENV.values()) - internal - documented
    assert documented <= set(ENV.values()), documented - set(ENV.values())
