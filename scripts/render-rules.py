"""Write alerts/rules/*.yml with their runbook links on another base URL, for a Prometheus to load.

    .venv/bin/python scripts/render-rules.py --runbook-base-url https://docs.example/runbooks.md var/compose/rules

Only the `runbook_url` annotations change (`<base>#<alert name in lower case>`); everything else is copied
byte for byte. docs/alerting.md ("Runbook links") says where each deployment path takes the base from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stack.render import RunbookBaseError, write_rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="the directory to write the rule files to")
    parser.add_argument("--runbook-base-url", required=True, help="where docs/runbooks.md is served")
    args = parser.parse_args(argv)
    try:
        write_rules(args.output, args.runbook_base_url)
    except RunbookBaseError as exc:
        parser.error(str(exc))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
