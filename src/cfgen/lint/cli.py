"""``python -m cfgen lint FILE...``: cfn-lint with cfgen's rules appended.

Every cfn-lint option works (``--format json``, ``-i W9503``, ``-x``...), and so
do its exit codes: a bit mask of 2 (error), 4 (warning), 8 (informational),
1 for a usage or configuration problem, 0 when clean.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cfgen.lint import RULES_DIR


def cfn_lint_args(argv: Sequence[str]) -> list[str]:
    """The cfn-lint command line with cfgen's rules appended.

    ``--append-rules=DIR`` (one token): cfn-lint's option takes one or more
    values, so a separate ``DIR`` would swallow the template paths after it.
    """
    return [f"--append-rules={RULES_DIR}", *argv]


def main(argv: list[str]) -> int:
    """Run cfn-lint with cfgen's rules on ``argv``; return cfn-lint's exit code."""
    from cfnlint.runner.cli import main as cfn_lint_main

    saved = sys.argv
    sys.argv = ["cfn-lint", *cfn_lint_args(argv)]
    try:
        cfn_lint_main()
    except SystemExit as done:
        code = done.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    finally:
        sys.argv = saved
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
