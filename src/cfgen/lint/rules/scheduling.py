# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for fair share and escalation (E9580-E9584).

Fair-share mistakes the AWS Batch guide names, and the escalation queue of a
state machine that must reach only On-Demand capacity. State machines are read
from ``DefinitionString`` (plain or ``Fn::Sub`` with a variable map, as cfgen
renders it) or ``Definition``; a Batch task's ``JobQueue`` ``${Name}`` is
resolved through the Sub variables or ``DefinitionSubstitutions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl

BATCH_SP = "AWS::Batch::SchedulingPolicy"
SFN_SM = "AWS::StepFunctions::StateMachine"
EVENTS_RULE = "AWS::Events::Rule"
_SHARES_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ShareAttributes.html"
_SUBMIT_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html"
_SHARE_ID = re.compile(r"^[A-Za-z0-9]{1,255}\*?$")
_VAR = re.compile(r"^\$\{([A-Za-z0-9_.:]+)\}$")
#: The On-Demand types of a compute environment (EC2 = On-Demand instances).
ON_DEMAND_TYPES = frozenset({"EC2", "FARGATE"})
#: Sub variable / substitution naming the escalation queue (cfgen.escalation).
ESCALATION_SUBSTITUTION = "OnDemandQueue"


def _fair_share_queues(m: mdl.Model) -> set[str]:
    return {
        jq.logical_id for jq in m.all_variants(mdl.BATCH_JQ) if jq.props.get("SchedulingPolicyArn")
    }


def _definition(props: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(ASL document, variables) of a state machine, or (None, {}) when unreadable."""
    variables: dict[str, Any] = {}
    subs = props.get("DefinitionSubstitutions")
    if isinstance(subs, dict):
        variables.update(subs)
    doc: Any = props.get("Definition")
    text = props.get("DefinitionString")
    if isinstance(text, dict) and "Fn::Sub" in text:
        sub = text["Fn::Sub"]
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], dict):
            text, more = sub[0], sub[1]
            variables.update(more)
        else:
            text = sub
    if isinstance(text, str):
        try:
            doc = json.loads(text)
        except ValueError:
            return None, {}
    return (doc if isinstance(doc, dict) else None), variables


def _batch_tasks(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(state name, Parameters/Arguments) of every Batch SubmitJob task, nested too."""
    states = doc.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        resource = state.get("Resource")
        params = state.get("Parameters", state.get("Arguments"))
        if (
            isinstance(resource, str)
            and ":batch:submitJob" in resource
            and isinstance(params, dict)
        ):
            yield str(name), params
        for branch in state.get("Branches", []) or []:
            if isinstance(branch, dict):
                yield from _batch_tasks(branch)
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _batch_tasks(state[key])


def _queue_of(
    m: mdl.Model, params: dict[str, Any], variables: dict[str, Any]
) -> tuple[str | None, str | None]:
    """(logical ID of the JobQueue, substitution name) a task submits to."""
    value = params.get("JobQueue")
    if isinstance(value, str):
        mt = _VAR.match(value)
        if mt and mt.group(1) in variables:
            return m.target(variables[mt.group(1)]), mt.group(1)
    return None, None


class SchedulingPolicyLimits(base.BatchRule):
    id = "E9580"
    shortdesc = "Fair-share policy outside AWS Batch's limits"
    description = (
        "Share identifiers are 1-255 letters and digits (optionally ending in *), at most 500 "
        "per queue and must not overlap (UserA* and UserA1); weight factors are "
        "0.0001-999.9999; ShareDecaySeconds at most 604800; ComputeReservation 0-99."
    )
    source_url = _SHARES_API
    tags: ClassVar[list[str]] = ["resources", "batch", "fair-share"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for sp in m.all_variants(BATCH_SP):
            fs = sp.props.get("FairsharePolicy")
            if not isinstance(fs, dict):
                continue
            decay = m.number(fs.get("ShareDecaySeconds", 0))
            if not mdl.is_unknown(decay) and not 0 <= decay <= 604_800:
                out.add(
                    mdl.res_path(sp.logical_id, "FairsharePolicy", "ShareDecaySeconds"),
                    f"ShareDecaySeconds {decay:g}: at most 604800 (one week)",
                )
            reserve = m.number(fs.get("ComputeReservation", 0))
            if not mdl.is_unknown(reserve) and not 0 <= reserve <= 99:
                out.add(
                    mdl.res_path(sp.logical_id, "FairsharePolicy", "ComputeReservation"),
                    f"ComputeReservation {reserve:g}: must be 0-99",
                )
            shares = fs.get("ShareDistribution")
            if not isinstance(shares, list):
                continue
            if len(shares) > 500:
                out.add(
                    mdl.res_path(sp.logical_id, "FairsharePolicy", "ShareDistribution"),
                    f"{len(shares)} share identifiers; a job queue has at most 500",
                )
            idents: list[tuple[int, str]] = []
            for i, share in enumerate(shares):
                if not isinstance(share, dict):
                    continue
                path = mdl.res_path(sp.logical_id, "FairsharePolicy", "ShareDistribution", i)
                ident = m.text(share.get("ShareIdentifier"))
                if isinstance(ident, str):
                    if not _SHARE_ID.match(ident):
                        out.add(
                            (*path, "ShareIdentifier"),
                            f"Share identifier {ident!r}: 1-255 letters and digits, optionally"
                            " followed by *",
                        )
                    idents.append((i, ident))
                weight = m.number(share.get("WeightFactor", 1))
                if not mdl.is_unknown(weight) and not 0.0001 <= weight <= 999.9999:
                    out.add(
                        (*path, "WeightFactor"),
                        f"WeightFactor {weight:g}: must be 0.0001-999.9999",
                    )
            for _, prefix in idents:
                if not prefix.endswith("*"):
                    continue
                for j, other in idents:
                    if other != prefix and other.startswith(prefix[:-1]):
                        out.add(
                            mdl.res_path(
                                sp.logical_id,
                                "FairsharePolicy",
                                "ShareDistribution",
                                j,
                                "ShareIdentifier",
                            ),
                            f"Share identifier {other!r} overlaps the prefix {prefix!r}",
                        )


#: The keys of a Step Functions Batch task that set the share identifier.
SHARE_KEYS = frozenset({"ShareIdentifier", "ShareIdentifier.$"})


def _submitting_states(m: mdl.Model) -> Iterator[tuple[mdl.Path, str, Any, dict[str, Any]]]:
    """(path, state name, queue, parameters) of each Batch submit task of each state machine."""
    for sm in m.all_variants(SFN_SM):
        doc, variables = _definition(sm.props)
        if doc is None:
            continue
        key = "DefinitionString" if "DefinitionString" in sm.props else "Definition"
        for name, params in _batch_tasks(doc):
            queue, _ = _queue_of(m, params, variables)
            yield mdl.res_path(sm.logical_id, key), name, queue, params


class FairShareQueueWithoutShareIdentifier(base.BatchRule):
    id = "E9581"
    shortdesc = "Jobs reach a fair-share queue without a share identifier"
    description = (
        "SubmitJob to a queue with a fair-share scheduling policy must name a share identifier. "
        "A Step Functions Batch task without ShareIdentifier, or an EventBridge rule whose "
        "target is the queue (its BatchParameters cannot carry one), submits jobs that fail."
    )
    source_url = _SUBMIT_API
    tags: ClassVar[list[str]] = ["resources", "batch", "fair-share"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        fair = _fair_share_queues(m)
        for path, name, queue, params in _submitting_states(m):
            if queue in fair and not (SHARE_KEYS & set(params)):
                out.add(
                    path,
                    f"State {name} submits to fair-share queue {queue} without ShareIdentifier",
                )
        for rule in m.all_variants(EVENTS_RULE):
            for i, target in enumerate(mdl.as_list(rule.props.get("Targets"))):
                if isinstance(target, dict) and m.target(target.get("Arn")) in fair:
                    out.add(
                        mdl.res_path(rule.logical_id, "Targets", i, "Arn"),
                        f"EventBridge cannot pass a share identifier to fair-share queue"
                        f" {m.target(target.get('Arn'))}",
                    )


class SchedulingPriorityRange(base.BatchRule):
    id = "E9582"
    shortdesc = "Scheduling priority outside 0-9999"
    description = (
        "A job definition's SchedulingPriority and SubmitJob's schedulingPriorityOverride "
        "take 0-9999 (higher runs first within a share identifier)."
    )
    source_url = (
        "https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html"
    )
    tags: ClassVar[list[str]] = ["resources", "batch", "fair-share"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd in m.all_variants(mdl.BATCH_JD):
            value = m.number(jd.props.get("SchedulingPriority", 0))
            if not mdl.is_unknown(value) and not 0 <= value <= 9999:
                out.add(
                    mdl.res_path(jd.logical_id, "SchedulingPriority"),
                    f"SchedulingPriority {value:g}: must be 0-9999",
                )
        for sm in m.all_variants(SFN_SM):
            doc, _ = _definition(sm.props)
            if doc is None:
                continue
            key = "DefinitionString" if "DefinitionString" in sm.props else "Definition"
            for name, params in _batch_tasks(doc):
                value = params.get("SchedulingPriorityOverride")
                if isinstance(value, (int, float)) and not 0 <= value <= 9999:
                    out.add(
                        mdl.res_path(sm.logical_id, key),
                        f"State {name}: SchedulingPriorityOverride {value:g} must be 0-9999",
                    )


class ShareIdentifierOnFifoQueue(base.BatchRule):
    id = "E9583"
    shortdesc = "Share identifier sent to a queue without a scheduling policy"
    description = (
        "SubmitJob must not name a share identifier when the queue has no fair-share "
        "scheduling policy; the submission is rejected."
    )
    source_url = _SUBMIT_API
    tags: ClassVar[list[str]] = ["resources", "batch", "fair-share"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        fair = _fair_share_queues(m)
        for path, name, queue, params in _submitting_states(m):
            if queue is not None and queue not in fair and (SHARE_KEYS & set(params)):
                out.add(path, f"State {name} sends a share identifier to FIFO queue {queue}")


class EscalationQueueNotOnDemand(base.BatchRule):
    id = "E9584"
    shortdesc = "Escalation queue reaches Spot capacity"
    description = (
        "The queue a state machine escalates reclaimed jobs to (its OnDemandQueue "
        "substitution, or a queue whose logical ID starts with Escalation) must list only "
        "On-Demand compute environments (EC2 or FARGATE), or the job meets Spot again."
    )
    source_url = (
        "https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html"
    )
    tags: ClassVar[list[str]] = ["resources", "batch", "escalation"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        escalation = {lid for lid in m.of_type(mdl.BATCH_JQ) if lid.startswith("Escalation")}
        for sm in m.all_variants(SFN_SM):
            _, variables = _definition(sm.props)
            if ESCALATION_SUBSTITUTION in variables:
                lid = m.target(variables[ESCALATION_SUBSTITUTION])
                if lid is not None:
                    escalation.add(lid)
        for lid in sorted(escalation):
            for jq in m.variants(lid):
                for i, _, ces in m.queue_ces(jq):
                    for ce in ces:
                        kind = m.ce_type(ce)
                        if not mdl.is_unknown(kind) and kind not in ON_DEMAND_TYPES:
                            out.add(
                                mdl.res_path(lid, "ComputeEnvironmentOrder", i),
                                f"Escalation queue {lid} reaches {ce.logical_id} ({kind});"
                                " it must reach only On-Demand (EC2 or FARGATE)",
                            )


class SchedulingPriorityWithoutFairShare(base.BatchRule):
    id = "W9585"
    shortdesc = "SchedulingPriority with no fair-share queue in the template"
    description = (
        "A job definition's SchedulingPriority only orders jobs within a share identifier of "
        "a fair-share queue; with only FIFO queues in the template it has no effect."
    )
    source_url = "https://docs.aws.amazon.com/batch/latest/userguide/share-identifiers.html"
    tags: ClassVar[list[str]] = ["resources", "batch", "fair-share"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        if _fair_share_queues(m):
            return
        for jd in m.all_variants(mdl.BATCH_JD):
            if "SchedulingPriority" in jd.props:
                out.add(
                    mdl.res_path(jd.logical_id, "SchedulingPriority"),
                    "SchedulingPriority has no effect: no queue here has a scheduling policy",
                )
