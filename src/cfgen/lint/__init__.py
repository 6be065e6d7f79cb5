"""cfgen's own cfn-lint rules (E95xx/W95xx) for AWS Batch on EC2 Spot.

``RULES_DIR`` is the directory to pass to ``cfn-lint --append-rules``;
``cfgen.lint.cli.main`` runs cfn-lint with it appended.
"""

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parent / "rules"

__all__ = ["RULES_DIR"]
