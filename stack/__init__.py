"""The local stack: simulator, exporters, responder, real Prometheus and Alertmanager, receiver sinks."""
