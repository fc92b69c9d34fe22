"""``riskwatch schema``: print the JSON Schema of the rules file (for editors)."""

from __future__ import annotations

import argparse
import json
import sys

from riskwatch.config.schema import json_schema


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    return 0
