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


def test_lifecycle_document_is_generated_from_the_code() -> None:
    """docs/LIFECYCLE.md is the rendering of the transition tables in domain/lifecycle.py."""
    from pss_ordering.domain.lifecycle import render_markdown

    assert (ROOT / "docs" / "LIFECYCLE.md").read_text() == render_markdown()
