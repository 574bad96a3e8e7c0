"""The responder's Flask app: ``create_app(runtime)`` attaches one process's runtime and the blueprints."""

from __future__ import annotations

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from responder.runtime import Runtime
from responder.web import health, operator, webhook
from responder.web.common import EXTENSION, error


def create_app(runtime: Runtime) -> Flask:
    app = Flask("responder")
    app.extensions[EXTENSION] = runtime
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(operator.blueprint)
    app.register_blueprint(health.blueprint)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return error(exc.code or 500, exc.name)

    @app.errorhandler(SQLAlchemyError)
    def _ledger_error(_exc: SQLAlchemyError) -> tuple[Response, int]:
        return error(503, "a database is unavailable; retry later")

    @app.errorhandler(Exception)
    def _unexpected(_exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return error(500, "internal error")

    return app
