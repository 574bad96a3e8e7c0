"""Serve the responder with gunicorn: each worker process runs uvicorn's event loop in front of the Flask
app (`responder.web.asgi`: a request is read whole before a thread runs it, so stalled clients cost no
thread) and the executor threads that claim playbook steps.

Import this module only after ``PROMETHEUS_MULTIPROC_DIR`` is set (`responder.cli` does): prometheus_client
decides at import time whether metric values live in shared files.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from responder.logs import logging_config
from responder.runtime import Runtime, build_runtime
from responder.settings import Settings
from responder.web import create_app
from responder.web.asgi import BufferedWsgi, worker_class
from responder.web.common import EXTENSION


class ResponderServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], factory: Callable[[], BufferedWsgi]) -> None:
        self._options = options
        self._factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> BufferedWsgi:
        return self._factory()


def _runtime(worker: Any) -> Runtime | None:
    front = getattr(worker, "wsgi", None)
    app = front.app if isinstance(front, BufferedWsgi) else None
    return app.extensions.get(EXTENSION) if isinstance(app, Flask) else None


def _start_executor(worker: Any) -> None:
    rt = _runtime(worker)
    if rt is not None:
        rt.start()


def _stop_executor(_server: Any, worker: Any) -> None:
    rt = _runtime(worker)
    if rt is not None:
        rt.close()


def _forget_worker(_server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _build_app(settings: Settings, metrics_dir: Path) -> BufferedWsgi:
    config = settings.responder
    app = create_app(build_runtime(settings, multiprocess_dir=metrics_dir))
    return BufferedWsgi(app, config.threads, config.max_body_bytes, config.request_read_timeout_seconds)


def serve(settings: Settings, metrics_dir: Path, log_level: str = "INFO") -> None:
    """Run until stopped (SIGTERM/SIGINT); removes the metrics directory on the way out."""
    config = settings.responder
    options = {
        "bind": config.listen,
        "workers": config.workers,
        "worker_class": worker_class(config.request_read_timeout_seconds),
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level.lower(),
        "logconfig_dict": logging_config(log_level.upper()),
        "control_socket_disable": True,
        "proc_name": "responder",
        "post_worker_init": _start_executor,
        "worker_exit": _stop_executor,
        "child_exit": _forget_worker,
    }
    try:
        ResponderServer(options, functools.partial(_build_app, settings, metrics_dir)).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
