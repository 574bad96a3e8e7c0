"""Actions: small idempotent functions registered by name, each with a typed params model."""
