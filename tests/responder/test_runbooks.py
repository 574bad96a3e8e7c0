"""``GET /runbooks``: docs/runbooks.md as one HTML page, no login, an anchor for every alert's runbook link."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from common.config import ConfigError
from responder.runbooks import load_runbooks, render_runbooks
from tests.responder.harness import harness, sections

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks.md"


def alert_names() -> list[str]:
    names = []
    for path in sorted((REPO / "alerts" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names += [rule["alert"] for rule in group["rules"] if "alert" in rule]
    return names


def test_the_runbooks_page_has_every_alerts_section_and_needs_no_login(tmp_path: Path) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={"runbooks": str(RUNBOOKS)})
    with harness(tmp_path, config) as h:
        page = h.client.get("/runbooks")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert len(alert_names()) > 30
    for name in alert_names():
        assert f'id="{name.lower()}"' in html, name
    assert '<table>' in html  # the runbook's tables are rendered as tables


def test_without_runbooks_configured_the_page_is_not_served(tmp_path: Path) -> None:
    with harness(tmp_path, sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")) as h:
        assert h.client.get("/runbooks").status_code == 404


def test_an_unreadable_runbooks_file_is_refused_at_start_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^responder\.runbooks: cannot read .*missing\.md"):
        load_runbooks(tmp_path / "missing.md")


def test_headings_get_githubs_anchors_and_raw_html_is_escaped() -> None:
    page = render_runbooks("# Top\n\n## 1) Ghost Position (Exchange Open)\n\n### Top\n\n<script>alert(1)</script>\n",
                           "x.md")
    assert page.anchors == {"top", "1-ghost-position-exchange-open", "top-1"}
    assert "<script>" not in page.html and "&lt;script&gt;" in page.html
