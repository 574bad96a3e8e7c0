"""The responder's Flask app: ``create_app(runtime)`` attaches one process's runtime and the blueprints."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from responder.console import views as console
from responder.runbooks import load_runbooks
from responder.runtime import Runtime
from responder.slack import interactions as slack
from responder.web import health, operator, runbooks, webhook
from responder.web.common import EXTENSION, error


def create_app(runtime: Runtime) -> Flask:
    app = Flask("responder")
    app.extensions[EXTENSION] = runtime
    app.json.sort_keys = False  # type: ignore[attr-defined]
    _configure_sessions(app, runtime)
    csrf = CSRFProtect(app)
    for machine_facing in (webhook.blueprint, operator.blueprint, health.blueprint, slack.blueprint):
        csrf.exempt(machine_facing)  # bearer tokens / Slack signatures, no cookies
        app.register_blueprint(machine_facing)
    app.register_blueprint(console.blueprint)
    path = runtime.settings.responder.runbooks
    if path is not None:
        app.extensions[runbooks.EXTENSION] = load_runbooks(path)
    csrf.exempt(runbooks.blueprint)  # a page to read, nothing to post
    app.register_blueprint(runbooks.blueprint)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int] | HTTPException:
        if request.blueprint == console.blueprint.name:
            return exc  # the console answers with HTML pages
        return error(exc.code or 500, exc.name)

    @app.errorhandler(SQLAlchemyError)
    def _ledger_error(_exc: SQLAlchemyError) -> tuple[Response, int]:
        return error(503, "a database is unavailable; retry later")

    @app.errorhandler(Exception)
    def _unexpected(_exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return error(500, "internal error")

    return app


def _configure_sessions(app: Flask, runtime: Runtime) -> None:
    console = runtime.settings.responder.console
    app.config.update(
        SECRET_KEY=runtime.settings.secrets.session_secret,
        SESSION_COOKIE_NAME="responder_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=console.secure_cookies,
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=console.session_minutes),
        WTF_CSRF_TIME_LIMIT=console.session_minutes * 60,
        WTF_CSRF_SSL_STRICT=console.secure_cookies,
    )
