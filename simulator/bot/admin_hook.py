"""A command hook for the simulated bot: ``python -m simulator.bot.admin_hook HOOK --bot-url URL``.

What a desk's own script around its bot's admin endpoint looks like (the responder's ``bot.hooks`` can run
it as a command): POSTs the simulated bot's ``/admin/<hook>`` with ``$SUPABASE_SERVICE_ROLE_KEY`` as the
bearer and prints the answer. Exit status: 0 when it answered 2xx, 1 when it refused (4xx), 75
(``EX_TEMPFAIL``) when it did not answer or failed (5xx), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys

import requests

EX_TEMPFAIL = 75


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.bot.admin_hook", description=__doc__.splitlines()[0])
    parser.add_argument("hook", choices=["restart", "reconcile"])
    parser.add_argument("--bot-url", required=True, help="the simulated bot's base URL")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    args = parser.parse_args(argv)
    key = os.environ.get("SUPABASE_SERVICE_ROLE_KEY", "")
    if not key:
        print("admin_hook: $SUPABASE_SERVICE_ROLE_KEY is not set", file=sys.stderr)
        return 2
    context = {k.removeprefix("TRADINGBOT_").lower(): v for k, v in os.environ.items() if k.startswith("TRADINGBOT_")}
    try:
        answer = requests.post(f"{args.bot_url.rstrip('/')}/admin/{args.hook}", json=context,
                               headers={"Authorization": f"Bearer {key}"}, timeout=args.timeout)
    except requests.RequestException as exc:
        print(f"admin_hook: the bot did not answer: {type(exc).__name__}", file=sys.stderr)
        return EX_TEMPFAIL
    print(f"HTTP {answer.status_code} {answer.text[:2000]}".rstrip())
    if answer.status_code >= 500:
        return EX_TEMPFAIL
    return 0 if 200 <= answer.status_code < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
