"""CI runs exactly the README's two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in ("SETUP_AND_START", "TESTS"):
        match = re.search(rf'^{name}="(.*)"$', ci, re.MULTILINE)
        assert match, name
        assert f"\n{match.group(1)}\n" in readme, name
