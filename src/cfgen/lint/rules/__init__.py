"""cfgen's cfn-lint rules for AWS Batch on Spot, one small concern per file.

Load them with ``cfn-lint --append-rules src/cfgen/lint/rules`` (a directory:
cfn-lint walks it and imports every ``*.py`` file) or ``--append-rules
cfgen.lint.rules`` (this module, when cfgen is installed). Either way a new file
``rules/<section>/<concern>.py`` holding ``base.BatchRule`` subclasses is picked
up without being listed anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from cfgen.lint import base


def _discover() -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, base.BatchRule)
                and value is not base.BatchRule
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return dict(sorted(found.items()))


_RULES = _discover()
globals().update(_RULES)
__all__ = list(_RULES)
