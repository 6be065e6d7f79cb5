# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9533, W9534, W9536: jobs rules (retries)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import jobs as sup


class RetryStrategyLimits(base.BatchRule):
    id = "E9533"
    shortdesc = "RetryStrategy outside Batch's limits"
    description = (
        "RetryStrategy.Attempts must be 1-10 and EvaluateOnExit may hold at most 5 entries."
    )
    source_url = sup.RETRY_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd, retry in sup.retry_strategies(m):
            if "Attempts" in retry:
                n = m.number(retry["Attempts"])
                if not mdl.is_unknown(n) and not 1 <= n <= 10:
                    out.add(
                        mdl.res_path(jd.logical_id, "RetryStrategy", "Attempts"),
                        f"Attempts {n:g} is outside 1-10",
                    )
            rules = retry.get("EvaluateOnExit")
            if isinstance(rules, list) and len(rules) > 5:
                out.add(
                    mdl.res_path(jd.logical_id, "RetryStrategy", "EvaluateOnExit"),
                    f"{len(rules)} EvaluateOnExit entries; at most 5",
                )


class RetryCatchAll(base.BatchRule):
    id = "W9534"
    shortdesc = "Last EvaluateOnExit entry is not an EXIT catch-all"
    description = (
        "Without a final Action EXIT matching everything (OnReason '*'), failures no "
        "entry matches are retried, so permanent errors burn every attempt."
    )
    source_url = sup.RETRIES

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd, retry in sup.retry_strategies(m):
            rules = retry.get("EvaluateOnExit")
            if isinstance(rules, list) and rules and not mdl.is_catch_all_exit(m, rules[-1]):
                out.add(
                    mdl.res_path(jd.logical_id, "RetryStrategy", "EvaluateOnExit", len(rules) - 1),
                    "Last EvaluateOnExit entry should be Action EXIT with OnReason '*'",
                )


class SpotReclaimNotRetried(base.BatchRule):
    id = "W9536"
    shortdesc = "Job definition on a Spot queue does not retry Spot reclaims"
    description = (
        "When the template's queues reach a SPOT compute environment, EC2 job "
        "definitions should RETRY when OnStatusReason matches 'Host EC2*' (the host "
        "was reclaimed); when they reach FARGATE_SPOT, Fargate job definitions should "
        "RETRY on 'Your Spot Task was interrupted*'. Both need Attempts > 1."
    )
    source_url = sup.RETRIES
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    _CASES = (
        ("SPOT", "EC2", mdl.SPOT_RECLAIM_STATUS_REASON, "Host EC2*"),
        (
            "FARGATE_SPOT",
            "FARGATE",
            mdl.FARGATE_SPOT_STATUS_REASON,
            "Your Spot Task was interrupted*",
        ),
    )

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        reached = sup.queue_ce_types(m)
        for ce_type, platform, reason, pattern in self._CASES:
            if ce_type not in reached:
                continue
            for jd in m.all_variants(mdl.BATCH_JD):
                if platform not in sup.platforms(m, jd):
                    continue
                retry = jd.props.get("RetryStrategy")
                if mdl.retries_spot_reclaim(m, retry, reason) is False:
                    where = ("RetryStrategy",) if isinstance(retry, dict) else ()
                    out.add(
                        mdl.res_path(jd.logical_id, *where),
                        f"{ce_type} reclaims are not retried: add EvaluateOnExit "
                        f"{{OnStatusReason: '{pattern}', Action: RETRY}} and Attempts > 1",
                        jd,
                    )


class StartFailureNotRetried(base.BatchRule):
    id = "W9539"
    shortdesc = "Retry strategy ends transient start failures"
    description = (
        "A container that cannot start (image pull throttled or timed out, ENI or "
        "secrets not ready) fails with statusReason 'Task failed to start' and the error "
        "class (CannotPullContainerError, DockerTimeoutError, ResourceInitializationError) "
        "in the container reason, without an exit code. An EvaluateOnExit whose first "
        "matching entry for such a failure is EXIT (typically the catch-all) ends the job "
        "on a transient fault; add {OnStatusReason: 'Task failed to start*', Action: "
        "RETRY} before it, as AWS's retry example does."
    )
    source_url = sup.RETRIES

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd, retry in sup.retry_strategies(m):
            attempts = m.number(retry.get("Attempts", 1))
            entries = retry.get("EvaluateOnExit")
            if mdl.is_unknown(attempts) or attempts <= 1 or not isinstance(entries, list):
                continue
            if sup.retried_as_cfn_example(m, entries):
                continue
            ended: dict[int, list[str]] = {}
            for error in sup.START_FAILURE_ERRORS:
                index = sup.first_match(m, entries, sup.START_FAILURE_STATUS_REASON, error)
                if (
                    index is not None
                    and str(m.text(entries[index].get("Action"))).upper() == "EXIT"
                ):
                    ended.setdefault(index, []).append(error.split(":", 1)[0])
            for index, errors in ended.items():
                out.add(
                    mdl.res_path(jd.logical_id, "RetryStrategy", "EvaluateOnExit", index),
                    f"Task failed to start ({', '.join(errors)}) ends the job here: add "
                    "{OnStatusReason: 'Task failed to start*', Action: RETRY} before it",
                    jd,
                )
