"""`python -m qbench`: the qbench command."""

import sys

from qbench.commands.cli import main

sys.exit(main())
