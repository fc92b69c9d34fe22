"""riskwatch: watches a Bitget futures account and warns before a position is liquidated."""

__version__ = "0.1.0"
