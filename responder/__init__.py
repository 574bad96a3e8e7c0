"""The responder: receives Alertmanager webhooks, records them in a durable ledger and runs the
runbook's first mitigations as playbooks of small, idempotent actions (``python -m responder``)."""
