"""Job queues: compute environments in order, fair share, stuck-job guards.

Emits JobQueue (AWS::Batch::JobQueue) and, per extra queue a profile declares
in ``[[scheduling.queues]]``, ``<Name>JobQueue``; a queue with ``shares`` gets
its own ``SchedulingPolicy`` / ``<Name>SchedulingPolicy``
(AWS::Batch::SchedulingPolicy). With ``scheduling.escalate_to_on_demand``,
EscalationJobQueue reaches only the On-Demand compute environment (it exists
only when OnDemandMaxvCpus is above 0, like that environment).

Without declared queues there is one queue, as before: Spot at order 1, the
fallback (when it exists) at order 2, so it only takes jobs Spot cannot place.
Jobs that wait in RUNNABLE because no environment can ever run them are
cancelled, so one stuck job does not block the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import If, NoValue, Ref, Template
from troposphere.batch import (
    ComputeEnvironmentOrder,
    FairsharePolicy,
    JobQueue,
    JobStateTimeLimitAction,
    SchedulingPolicy,
    ShareAttributes,
)

from cfgen import naming
from cfgen.compute import Compute, ComputeEnvironmentRef
from cfgen.config import PLATFORM_COMPUTE, ComputeKey, FairShare, Profile, QueueSpec
from cfgen.parameters import Params
from cfgen.tags import map_tags

# Reasons Batch reports for jobs that cannot start; all may be cancelled by a
# JobStateTimeLimitAction. Capacity may come back, so it waits the parameter's
# time; a misconfiguration never fixes itself, so it waits the minimum (600 s).
# https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
CAPACITY_REASON = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
MISCONFIGURATION_REASONS = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)


@dataclass(frozen=True)
class QueueRef:
    ref: Ref
    logical_id: str
    name: str
    #: The queue has a fair-share scheduling policy: every job needs a share identifier.
    fair_share: bool
    #: Condition that must hold for it to exist (None: always).
    condition: str | None
    #: Spot capacity comes first (the retry alarm watches these queues).
    spot: bool


@dataclass(frozen=True)
class Queues:
    #: The first queue (JobQueue): scripts submit here by default.
    job_queue: Ref
    #: Every queue, the first first; the escalation queue (if any) last.
    queues: tuple[QueueRef, ...]
    escalation: QueueRef | None


def queue_specs(cfg: Profile) -> tuple[QueueSpec, ...]:
    """The declared queues, or the one default queue over every compute environment."""
    if cfg.scheduling.queues:
        return cfg.scheduling.queues
    keys = PLATFORM_COMPUTE[cfg.compute.platform][: 2 if cfg.compute.on_demand_fallback else 1]
    return (QueueSpec("default", 1, keys, None, None),)


def add_queues(t: Template, cfg: Profile, *, params: Params, compute: Compute) -> Queues:
    by_key = dict(zip(PLATFORM_COMPUTE[cfg.compute.platform], compute.environments, strict=False))
    refs: list[QueueRef] = []
    for i, spec in enumerate(queue_specs(cfg)):
        first = i == 0
        lid = naming.queue_id(spec.name, first=first)
        policy = None
        if spec.fair_share is not None:
            policy = _add_policy(
                t, cfg, naming.scheduling_policy_id(spec.name, first=first), spec.fair_share
            )
        envs = [by_key[k] for k in spec.compute]
        timeout: object = (
            params.runnable_timeout
            if spec.runnable_timeout_seconds is None
            else spec.runnable_timeout_seconds
        )
        ref = _add_queue(
            t,
            cfg,
            lid,
            priority=spec.priority,
            envs=envs,
            runnable_timeout=timeout,
            policy=policy,
            condition=None,
        )
        spot = spec.compute[0] in (ComputeKey.SPOT, ComputeKey.FARGATE_SPOT)
        refs.append(QueueRef(ref, lid, spec.name, policy is not None, None, spot))
    escalation = None
    if cfg.scheduling.escalate_to_on_demand:
        on_demand = by_key[PLATFORM_COMPUTE[cfg.compute.platform][1]]
        lid = naming.queue_id(naming.ESCALATION_QUEUE_NAME, first=False)
        # Above every other queue on the shared On-Demand environment: an
        # escalated job has already lost work to reclaims; it should not wait.
        priority = min(1000, max(q.priority for q in queue_specs(cfg)) + 1)
        ref = _add_queue(
            t,
            cfg,
            lid,
            priority=priority,
            envs=[on_demand],
            runnable_timeout=params.runnable_timeout,
            policy=None,
            condition=on_demand.condition,
        )
        escalation = QueueRef(
            ref, lid, naming.ESCALATION_QUEUE_NAME, False, on_demand.condition, False
        )
        refs.append(escalation)
    return Queues(job_queue=refs[0].ref, queues=tuple(refs), escalation=escalation)


def _add_policy(t: Template, cfg: Profile, logical_id: str, fs: FairShare) -> Ref:
    # No Name: a replacement (Name is create-only) never collides. A queue's
    # policy can be replaced but never removed, and a FIFO queue can never get
    # one: adding shares to an existing queue replaces the queue.
    # https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html
    policy = t.add_resource(
        SchedulingPolicy(
            logical_id,
            FairsharePolicy=FairsharePolicy(
                ShareDecaySeconds=fs.share_decay_seconds,
                ComputeReservation=fs.compute_reservation,
                ShareDistribution=[
                    ShareAttributes(ShareIdentifier=ident, WeightFactor=weight)
                    for ident, weight in fs.shares
                ],
            ),
            Tags=map_tags(cfg, component="queue"),
        )
    )
    return Ref(policy)


def _add_queue(
    t: Template,
    cfg: Profile,
    logical_id: str,
    *,
    priority: int,
    envs: list[ComputeEnvironmentRef],
    runnable_timeout: object,
    policy: Ref | None,
    condition: str | None,
) -> Ref:
    order: list[object] = []
    for position, env in enumerate(envs, start=1):
        entry = ComputeEnvironmentOrder(ComputeEnvironment=env.ref, Order=position)
        # A queue that exists only under the environment's condition lists it plainly.
        order.append(
            entry if env.condition in (None, condition) else If(env.condition, entry, NoValue)
        )
    actions = [
        JobStateTimeLimitAction(
            Action="CANCEL",
            State="RUNNABLE",
            Reason=CAPACITY_REASON,
            MaxTimeSeconds=runnable_timeout,
        )
    ] + [
        JobStateTimeLimitAction(Action="CANCEL", State="RUNNABLE", Reason=r, MaxTimeSeconds=600)
        for r in MISCONFIGURATION_REASONS
    ]
    extra: dict[str, object] = {}
    if condition:
        extra["Condition"] = condition
    if policy is not None:
        extra["SchedulingPolicyArn"] = policy
    queue = t.add_resource(
        JobQueue(
            logical_id,
            Priority=priority,
            State="ENABLED",
            ComputeEnvironmentOrder=order,
            JobStateTimeLimitActions=actions,
            Tags=map_tags(cfg, component="queue"),
            **extra,
        )
    )
    return Ref(queue)
