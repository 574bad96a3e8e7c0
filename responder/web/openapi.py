"""The OpenAPI 3.1 description of the responder's HTTP API (served at ``/openapi.json``).

3.1 because its schemas are JSON Schema 2020-12, what pydantic emits: ``const`` (``version: "4"``) and
``propertyNames`` (label names) mean there what parsing enforces; OpenAPI 3.0 has neither.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from responder.payload import Notification
from responder.web.bodies import MAX_ID, DecisionBody, EnableBody, KillSwitchBody

_REF = "#/components/schemas/{model}"


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(by_alias=True, ref_template=_REF)
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


NO_NUL = "^[^\\u0000]*$"  # text a database can store (the webhook answers 400 otherwise)
LABEL_NAMES = {"minLength": 1, "maxLength": 256, "pattern": NO_NUL}


def _storable_strings(node: Any) -> None:
    """Say in the schema what parsing enforces: no NUL characters in any free-text string."""
    if isinstance(node, dict):
        free = node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node)
        if free:
            node["pattern"] = NO_NUL
        for value in node.values():
            _storable_strings(value)
    elif isinstance(node, list):
        for value in node:
            _storable_strings(value)


def _label_maps(schemas: dict[str, Any]) -> None:
    """Label maps: names of 1 to 256 characters; an alert's labels must carry an alertname."""
    for model, fields in (("Alert", ("labels", "annotations")), ("Notification", ("groupLabels", "commonLabels"))):
        for name in fields:
            schemas[model]["properties"][name]["propertyNames"] = LABEL_NAMES
    labels = schemas["Alert"]["properties"]["labels"]
    labels["properties"] = {"alertname": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL}}
    labels["required"] = ["alertname"]


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _responses(ok: str, *errors: int, ok_schema: str = "Object") -> dict[str, Any]:
    texts = {
        400: "bad input (never starts an action)",
        401: "missing or wrong bearer token",
        404: "not found",
        409: "conflict with the current state",
        413: "body larger than max_body_bytes",
        415: "not application/json",
        502: "the bot's database ignored the write",
        503: "a database or the broker is unavailable; retry",
    }
    responses: dict[str, Any] = {"200": {"description": ok, "content": _json(ok_schema)}}
    for status in errors:
        responses[str(status)] = {"description": texts[status], "content": _json("Error")}
    return responses


def _id(name: str) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": _json(ref)}


OPERATOR: list[dict[str, list[str]]] = [{"operatorToken": []}]


def _service_paths() -> dict[str, Any]:
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/alerts": {
            "post": {
                "summary": "Alertmanager webhook (v4); 200 once every alert is durably recorded",
                "security": [{"webhookToken": []}],
                "requestBody": _body("Notification"),
                "responses": _responses("recorded", 400, 401, 413, 415, 503),
            }
        },
        "/health/live": {"get": {"summary": "liveness", "responses": _responses("alive")}},
        "/health/ready": {
            "get": {"summary": "ledger writable, playbooks loaded", "responses": _responses("ready", 503)}
        },
        "/metrics": {
            "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "", "content": text}}}
        },
        "/openapi.json": {"get": {"summary": "this document", "responses": _responses("OpenAPI 3.1")}},
    }


def _operator_paths() -> dict[str, Any]:
    runs_query = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
        {"name": "alertname", "in": "query", "schema": {"type": "string", "maxLength": 200, "pattern": NO_NUL}},
    ]
    profile = {"name": "profile_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/approvals": {
            "get": {
                "summary": "steps awaiting approval",
                "security": OPERATOR,
                "responses": _responses("steps", 401, 503),
            }
        },
        "/approvals/{step_id}": {
            "post": {
                "summary": "approve or reject a step awaiting approval",
                "security": OPERATOR,
                "parameters": [_id("step_id")],
                "requestBody": _body("DecisionBody"),
                "responses": {
                    **_responses("decided: approved or rejected", 400, 401, 404, 409, 503),
                    "202": {"description": "recorded; a two-person step waits for a second operator",
                            "content": _json("Object")},
                },
            }
        },
        "/runs": {
            "get": {
                "summary": "recent playbook runs",
                "security": OPERATOR,
                "parameters": runs_query,
                "responses": _responses("runs", 400, 401, 503),
            }
        },
        "/runs/{run_id}": {
            "get": {
                "summary": "one run with its steps",
                "security": OPERATOR,
                "parameters": [_id("run_id")],
                "responses": _responses("run", 401, 404, 503),
            }
        },
        "/kill-switch": {
            "get": {
                "summary": "kill switch engagements in force and recent",
                "security": OPERATOR,
                "responses": _responses("engagements", 401, 503),
            },
            "post": {
                "summary": "engage a kill switch level (stop-entries, cancel-working, flatten)",
                "security": OPERATOR,
                "requestBody": _body("KillSwitchBody"),
                "responses": {
                    **_responses("already engaged: the engagement in force", 400, 401, 404, 409, 503),
                    "201": {"description": "engaged: its run", "content": _json("Object")},
                },
            },
        },
        "/profiles/{profile_id}/enable": {
            "post": {
                "summary": "re-enable a profile once position parity holds at the broker",
                "security": OPERATOR,
                "parameters": [profile],
                "requestBody": _body("EnableBody"),
                "responses": _responses("enabled or already active", 400, 401, 404, 409, 502, 503),
            }
        },
    }


def document() -> dict[str, Any]:
    schemas = _schemas(Notification, DecisionBody, EnableBody, KillSwitchBody)
    _storable_strings(schemas)
    _label_maps(schemas)
    schemas["Error"] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    schemas["Object"] = {"type": "object"}
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Trading-bot incident responder", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "webhookToken": {**bearer, "description": "RESPONDER_WEBHOOK_TOKEN"},
                "operatorToken": {**bearer, "description": "RESPONDER_OPERATOR_TOKEN"},
            },
        },
        "paths": {**_service_paths(), **_operator_paths()},
    }
