"""The durable ledger: alert occurrences, playbook runs, their steps, the blast-radius budget and RCA drafts."""
