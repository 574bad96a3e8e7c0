"""`python -m simulator`: serve, inject a fault, or bulk-seed the bot database."""

import sys

from simulator.cli import main

sys.exit(main())
