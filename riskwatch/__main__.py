"""``python -m riskwatch``: the same as the ``riskwatch`` console script."""

from riskwatch.cli.main import console

console()
