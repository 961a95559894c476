"""TM Forum's official TMF622 v4.0.0 conformance test kit, run with newman against a
real ``serve`` (slow suite; both databases).

The kit (``tests/ctk/``, from github.com/tmforum-rand/CTK-TMF622-ProductOrdering at
65be22e, unmodified, with its notice) is configured as its README says: the API's
URL, the request headers (here a bearer token) and the POST payload (here an order
for a registered customer naming a published offering). ``tests/ctk/run.js`` does
what the kit's ``index.js`` does, without its interactive parts. newman is
installed with npm into the git-ignored ``.ctk/`` on first use (node and npm must
be on the PATH, and the npm registry reachable).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from tests.served import Served, serve
from tests.world import OFFERINGS, PARTIES, provider_ref

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "tests" / "ctk"
MODULES = ROOT / ".ctk"
V4 = "/tmf-api/productOrderingManagement/v4/"
PAYLOAD = {
    "productOrderItem": [{"id": "123", "action": "add", "productOffering": {"id": "ctk-offer"}}],
    "relatedParty": [{"id": "ctk-customer", "role": "customer", "@referredType": "Individual"}],
}


@pytest.fixture(scope="module")
def newman() -> Path:
    """newman, installed once with npm into .ctk/ (as the kit's own script does)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed to run TM Forum's conformance kit"
    if not (MODULES / "node_modules" / "newman").is_dir():
        MODULES.mkdir(exist_ok=True)
        shutil.copy(KIT / "package.json", MODULES / "package.json")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"], cwd=MODULES, check=True, timeout=600
        )
    return MODULES / "node_modules"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = {}
    if request.param == "postgres":
        env["PSS_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
    with serve(tmp_path, env) as running:
        yield running


def _post(served: Served, path: str, body: dict[str, Any], *who: str) -> None:
    request = urllib.request.Request(
        served.url(path),
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {served.token(*who)}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


def test_tmf622_v4_conformance_kit(served: Served, newman: Path, tmp_path: Path) -> None:
    schema = json.loads((KIT / "ProductOrder.schema.json").read_text())
    schema.pop("$schema")
    jsonschema_rs.validate(schema, PAYLOAD)  # the kit's own check of a configured payload
    _post(
        served,
        f"{PARTIES}/individual",
        {"id": "ctk-customer", "givenName": "C", "familyName": "K"},
        "gov",
        "governance",
    )
    _post(
        served, f"{PARTIES}/organization", {"id": "ctk-provider", "name": "P"}, "gov", "governance"
    )
    offering = {
        "id": "ctk-offer",
        "name": "ctk-offer",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("ctk-provider")],
    }
    _post(served, OFFERINGS, offering, "ctk-provider", "provider")
    config = {
        "url": served.url(V4),
        "headers": {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {served.token('ctk-customer', 'customer')}",
        },
        "payloads": {"ProductOrder": {"POST": {"payload": PAYLOAD}}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    report = tmp_path / "report.json"
    run = subprocess.run(
        ["node", str(KIT / "run.js"), str(tmp_path / "config.json"), str(report)],
        env={"NODE_PATH": str(newman), "PATH": str(Path(shutil.which("node") or "node").parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    stats = json.loads(report.read_text())["run"]["stats"]
    assert stats["requests"] == {"total": 9, "pending": 0, "failed": 0}
    assert stats["assertions"]["failed"] == 0
    assert stats["assertions"]["total"] >= 60
