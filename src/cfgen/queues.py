"""The job queue: compute environments in order, and a guard against stuck jobs.

Emits JobQueue (AWS::Batch::JobQueue). Spot is order 1; the fallback (when it
exists) order 2, so it only takes jobs Spot cannot place. Jobs that wait in
RUNNABLE because no environment can ever run them are cancelled, so one stuck
job does not block the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import If, NoValue, Ref, Template
from troposphere.batch import ComputeEnvironmentOrder, JobQueue, JobStateTimeLimitAction

from cfgen import naming
from cfgen.compute import Compute
from cfgen.config import Profile
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
class Queues:
    job_queue: Ref


def add_queues(t: Template, cfg: Profile, *, params: Params, compute: Compute) -> Queues:
    order: list[object] = []
    for position, env in enumerate(compute.environments, start=1):
        entry = ComputeEnvironmentOrder(ComputeEnvironment=env.ref, Order=position)
        order.append(entry if env.condition is None else If(env.condition, entry, NoValue))

    actions = [
        JobStateTimeLimitAction(
            Action="CANCEL",
            State="RUNNABLE",
            Reason=CAPACITY_REASON,
            MaxTimeSeconds=params.runnable_timeout,
        )
    ] + [
        JobStateTimeLimitAction(Action="CANCEL", State="RUNNABLE", Reason=r, MaxTimeSeconds=600)
        for r in MISCONFIGURATION_REASONS
    ]
    queue = t.add_resource(
        JobQueue(
            naming.JOB_QUEUE,
            Priority=1,
            State="ENABLED",
            ComputeEnvironmentOrder=order,
            JobStateTimeLimitActions=actions,
            Tags=map_tags(cfg, component="queue"),
        )
    )
    return Queues(job_queue=Ref(queue))
