"""``python -m celebalab.demo``: the command-line entry of ``make demo``."""

import sys

from celebalab.demo._pipeline import main

sys.exit(main())
