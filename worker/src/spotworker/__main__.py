"""Entry point: ``python -m spotworker`` (run this shard) or ``python -m spotworker merge``.

The SIGTERM handler is installed before anything else is imported: boto3 takes
a noticeable part of a second to import, and a container's PID 1 ignores a
signal it has no handler for, so a stop request in that window would be lost
(then ECS's SIGKILL gives exit 137, which is not retried). The command line
itself is spotworker.entry (``run``, ``merge`` and ``main`` are also reachable
here, as before).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from spotworker.interrupt import StopFlag


def main(argv: list[str] | None = None) -> int:
    stop = StopFlag()
    stop.install()  # first thing: see the module docstring
    from spotworker import entry

    code = entry.main(argv, stop)
    # Done, the exit code decided: a SIGTERM from now on changes nothing. (Python's
    # finalization puts SIG_DFL back for a Python-level handler, and a signal then
    # would kill the process with 143 after a success; SIG_IGN it keeps.)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def __getattr__(name: str) -> Any:
    """``spotworker.__main__.run`` / ``.merge``: the functions of spotworker.entry."""
    if name in {"run", "merge", "USAGE"}:
        from spotworker import entry

        return getattr(entry, name)
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
