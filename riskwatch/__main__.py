"""``python -m riskwatch``: the same as the ``riskwatch`` console script."""

import sys

from riskwatch.cli.main import main

sys.exit(main())
