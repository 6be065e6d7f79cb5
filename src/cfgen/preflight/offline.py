"""Offline preflight: the fit lint rules on a template with the parameter values given.

``Key=Value`` pairs replace the parameters' defaults (exactly what the values
would be at deploy time); the rules of :mod:`cfgen.lint.rules.fit` then run
through cfn-lint, so `cfgen lint`, plain cfn-lint and `cfgen preflight` agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from cfgen.preflight.report import Check, Status


class TemplateError(Exception):
    """A template or parameter value that cannot be used: one line, exit 2."""


#: Rule id -> (check name, what a pass means).
CHECKS: dict[str, tuple[str, str]] = {
    "E9590": ("job-fits", "every job fits an instance type of each compute environment"),
    "E9591": ("gpu-types", "every GPU job reaches instance types with enough GPUs"),
    "E9592": ("maxvcpus-job", "MaxvCpus of each compute environment holds the largest job"),
    "W9590": ("maxvcpus-instance", "MaxvCpus of each compute environment holds an instance"),
    "E9593": ("fargate-size", "Fargate jobs use valid vCPU/memory pairs"),
    "W9591": ("instance-types", "every instance type exists (bundled DescribeInstanceTypes)"),
    "W9592": ("runnable-timeouts", "RUNNABLE time-limit actions cover every reason Batch allows"),
}


def load_template(path: str) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise TemplateError(f"template={path!r}: cannot read: {err.strerror}") from None
    template, errors = decode_str(text)
    if errors or not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"template={path!r}: not a CloudFormation template (YAML or JSON)")
    return template


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TemplateError(f"parameter={pair!r}: expected Key=Value")
        values[key] = value
    return values


def apply_parameters(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of the template whose parameters default to the given values."""
    params = template.get("Parameters") or {}
    for key, value in values.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise TemplateError(f"parameter={key!r}: not a parameter of the template ({known})")
        _validate(key, value, params[key] if isinstance(params[key], dict) else {})
    out: dict[str, Any] = json.loads(json.dumps(template, default=str))
    for key, value in values.items():
        out["Parameters"][key]["Default"] = value
    return out


def _validate(key: str, value: str, spec: dict[str, Any]) -> None:
    """The parameter's own constraints, as CloudFormation would check them at deploy time."""
    import re

    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [str(a) for a in allowed]:
        shown = ", ".join(map(str, allowed))
        raise TemplateError(f"parameter {key}={value!r}: must be one of {shown}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {key}={value!r}: must be a number") from None
        for bound, ok in (
            ("MinValue", number >= float(spec.get("MinValue", number))),
            ("MaxValue", number <= float(spec.get("MaxValue", number))),
        ):
            if not ok:
                raise TemplateError(f"parameter {key}={value!r}: {bound} is {spec[bound]}")
    pattern = spec.get("AllowedPattern")
    if not isinstance(pattern, str):
        return
    items = value.split(",") if spec.get("Type") == "CommaDelimitedList" else [value]
    for item in items:
        if not re.fullmatch(pattern, item.strip() if len(items) > 1 else item):
            raise TemplateError(f"parameter {key}={value!r}: {item!r} must match {pattern}")


def parameter_values(template: dict[str, Any]) -> dict[str, str]:
    """Each parameter's value as deployed: its Default (empty when it has none)."""
    out: dict[str, str] = {}
    for key, spec in (template.get("Parameters") or {}).items():
        default = spec.get("Default", "") if isinstance(spec, dict) else ""
        out[key] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
    return out


@cache
def _rules() -> Any:
    import cfnlint.core

    from cfgen.lint import RULES_DIR

    return cfnlint.core.get_rules([str(RULES_DIR)], [], [])


def offline_checks(template: dict[str, Any], region: str) -> list[Check]:
    """One check per fit rule: pass, or one warn/fail line per finding with its fix."""
    from cfnlint.api import lint

    from cfgen.lint.rules import fit

    matches = lint(json.dumps(template, default=str), rules=_rules(), config={"regions": [region]})
    found: dict[str, list[str]] = {rid: [] for rid in CHECKS}
    for m in matches:
        if m.rule.id in found and m.message not in found[m.rule.id]:
            found[m.rule.id].append(m.message)
    checks: list[Check] = []
    for rid, (name, passed) in CHECKS.items():
        rule = next(
            getattr(fit, n) for n in dir(fit) if getattr(getattr(fit, n), "id", None) == rid
        )
        if not found[rid]:
            checks.append(Check(name, Status.PASS, passed))
        for message in found[rid]:
            what, _, fix = message.partition(". Fix: ")
            status = Status.FAIL if rid.startswith("E") else Status.WARN
            checks.append(Check(name, status, f"{what} [{rid}]", fix, rule.source_url))
    return checks
