"""The floor for webhook ingest: a bare Flask endpoint that reads the body and answers 200, served as the
responder is served: gunicorn with the responder's worker class (`Worker`: uvicorn's event loop reading each
request whole) and front (`front`: `threads` threads, from ``$BENCH_THREADS``), workers and keep-alive."""

from __future__ import annotations

import os

from flask import Flask, request

from responder.web.asgi import BufferedWsgi, worker_class

app = Flask("bare")
front = BufferedWsgi(app, int(os.environ.get("BENCH_THREADS", "4")), 1_048_576, 10.0)
Worker = worker_class(10.0)


@app.post("/alerts")
def alerts() -> tuple[str, int, dict[str, str]]:
    request.get_data()
    return '{"status":"ok"}', 200, {"Content-Type": "application/json"}


@app.get("/health/ready")
def ready() -> tuple[str, int]:
    return "ok", 200
