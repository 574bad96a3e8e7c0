"""The floor for webhook ingest: a bare Flask endpoint that reads the body and answers 200, served by
gunicorn with the responder's worker class, workers, threads and keep-alive."""

from __future__ import annotations

from flask import Flask, request

app = Flask("bare")


@app.post("/alerts")
def alerts() -> tuple[str, int, dict[str, str]]:
    request.get_data()
    return '{"status":"ok"}', 200, {"Content-Type": "application/json"}


@app.get("/health/ready")
def ready() -> tuple[str, int]:
    return "ok", 200
