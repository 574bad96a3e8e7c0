"""The bot probes carry no credentials of their own: no cookie the bot set, no ~/.netrc Basic auth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request

from tests.exporters.conftest import make_exporter
from tests.support.simulator import RunningSimulator
from tests.support.wsgi import serve_wsgi


def cookie_setting_bot(seen: list[dict[str, Any]]) -> Flask:
    """A bot that sets a session cookie on every answer and records what each request carried."""
    app = Flask("cookie-setting-bot")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str) -> Response:
        seen.append({"path": f"/{path}", "cookie": request.headers.get("Cookie"),
                     "authorization": request.headers.get("Authorization")})
        response = jsonify({"ok": path.startswith("health")})
        response.status_code = 200 if path.startswith("health") else 401
        response.set_cookie("bot_session", "issued-by-the-bot")
        return response

    return app


def test_probes_send_back_no_cookie_and_no_netrc_credentials(
    sim: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login probe-operator password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen: list[dict[str, Any]] = []
    with serve_wsgi(cookie_setting_bot(seen)) as bot_url:
        exporter = make_exporter(sim, bot_url=bot_url)
        try:
            exporter.scrape()
            exporter.scrape()
        finally:
            exporter.close()
    trades = [request for request in seen if request["path"] == "/api/trade"]
    assert len(trades) == 2 and len(seen) >= 8
    assert [request for request in seen if request["cookie"]] == []
    assert [trade["authorization"] for trade in trades] == [None, None]
