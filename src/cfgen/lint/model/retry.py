"""What a job definition's RetryStrategy does with a given failure."""

from __future__ import annotations

import fnmatch
from typing import Any

from cfgen.lint.model.template import SPOT_RECLAIM_STATUS_REASON, Model
from cfgen.lint.model.values import UNKNOWN, is_unknown


def retries_spot_reclaim(
    m: Model, retry: Any, status_reason: str = SPOT_RECLAIM_STATUS_REASON
) -> bool | Any:
    """Would a failure with ``status_reason`` (a Spot reclaim) be retried by this RetryStrategy?"""
    if not isinstance(retry, dict):
        return False
    attempts = m.number(retry.get("Attempts", 1))
    if is_unknown(attempts):
        return UNKNOWN
    if attempts <= 1:
        return False
    rules = retry.get("EvaluateOnExit")
    if not isinstance(rules, list) or not rules:
        return True  # without EvaluateOnExit every failure is retried
    for rule in rules:
        if not isinstance(rule, dict):
            return UNKNOWN
        verdict = rule_matches(m, rule, status_reason, "", None)
        if is_unknown(verdict):
            return UNKNOWN
        if verdict:
            action = m.text(rule.get("Action"))
            if is_unknown(action):
                return UNKNOWN
            return str(action).upper() == "RETRY"
    return True  # no rule matched: Batch retries


def rule_matches(
    m: Model, rule: dict[str, Any], status_reason: str, reason: str, exit_code: str | None
) -> bool | Any:
    """Does one EvaluateOnExit entry match a failure (exit_code None: no container exit)?"""
    for key, sample in (
        ("OnStatusReason", status_reason),
        ("OnReason", reason),
        ("OnExitCode", exit_code),
    ):
        if key not in rule:
            continue
        pattern = m.text(rule[key])
        if is_unknown(pattern):
            return UNKNOWN
        if pattern == "*":
            continue
        if sample is None or not fnmatch.fnmatchcase(sample, pattern):
            return False
    return True


def is_catch_all_exit(m: Model, rule: Any) -> bool:
    if not isinstance(rule, dict) or str(m.text(rule.get("Action"))).upper() != "EXIT":
        return False
    return all(
        m.text(rule.get(k, "*")) == "*" for k in ("OnStatusReason", "OnReason", "OnExitCode")
    )
