"""``python -m cfgen lint FILE...``: cfn-lint with cfgen's rules appended.

Every cfn-lint option works (``--format json``, ``-i W9503``, ``-x``...), and so
do its exit codes for findings: a bit mask of 2 (error), 4 (warning), 8
(informational), 0 when clean. An option cfn-lint does not know, or one without
its value, is one line on stderr and exit 2, like every cfgen command (cfn-lint
itself would print its whole help and exit 1).
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


def bad_options(argv: Sequence[str]) -> str | None:
    """cfn-lint's complaint about the options of ``argv`` as one line, or None if they parse."""
    import contextlib
    import io

    from cfnlint.config import CliArgs

    parser = CliArgs.create_parser(None)  # the method does not use its instance
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            _, unknown = parser.parse_known_args(cfn_lint_args(argv))
    except SystemExit:
        lines = [line for line in err.getvalue().splitlines() if "error:" in line]
        return lines[-1].split("error:", 1)[1].strip() if lines else "bad options"
    options = [u for u in unknown if u.startswith("-")]
    return f"unrecognized arguments: {' '.join(options)}" if options else None


def main(argv: list[str]) -> int:
    """Run cfn-lint with cfgen's rules on ``argv``; return cfn-lint's exit code."""
    from cfnlint.runner.cli import main as cfn_lint_main

    if not any(a in ("-h", "--help") for a in argv) and (problem := bad_options(argv)):
        print(f"cfgen lint: error: {problem} (see cfgen lint --help)", file=sys.stderr)
        return 2

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
