"""Escalation to On-Demand: a job that Spot reclaims end runs again On-Demand.

Emits, only with ``scheduling.escalate_to_on_demand`` and only while the
On-Demand environment exists (condition HasOnDemandFallback):
EscalationStateMachine (AWS::StepFunctions::StateMachine) and EscalationRole
(AWS::IAM::Role, assumed by Step Functions). EscalationJobQueue is made in
cfgen.queues.

The state machine submits the job to the first queue (Spot first) with
``batch:submitJob.sync`` and waits; the submission carries the job
definition's retry rules with ``scheduling.escalate_after_attempts`` attempts.
When the job finally FAILS and its status reason is a
Spot reclaim (the same pattern the retry strategy matches), the same job (same
name, same container overrides) is submitted to EscalationJobQueue, which
reaches only On-Demand capacity; the worker resumes from its checkpoint in the
data bucket. Any other failure ends the execution as failed. Why Step
Functions and not an EventBridge rule or a second retry strategy:
docs/scheduling.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awacs import batch, events
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import Policy, Role
from troposphere.stepfunctions import StateMachine

from cfgen import naming
from cfgen.config import Platform, Profile
from cfgen.jobs import FARGATE_SPOT_RECLAIM, SPOT_RECLAIM, retry_rules
from cfgen.queues import Queues
from cfgen.tags import stack_tags

#: Step Functions' optimized Batch integration: submit and wait for the end.
#: https://docs.aws.amazon.com/step-functions/latest/dg/connect-batch.html
SUBMIT_SYNC = "arn:${AWS::Partition}:states:::batch:submitJob.sync"
#: The managed rule Step Functions creates to learn that a Batch job ended; the
#: role needs events:PutTargets/PutRule/DescribeRule on it.
#: https://docs.aws.amazon.com/step-functions/latest/dg/batch-iam.html
SYNC_RULE = "StepFunctionsGetEventsForBatchJobsRule"
#: Input keys of an execution (scripts/submit-job.sh --escalate writes them).
INPUT_JOB_NAME = "jobName"
INPUT_OVERRIDES = "containerOverrides"
INPUT_SHARE_ID = "shareIdentifier"


@dataclass(frozen=True)
class Escalation:
    state_machine: Ref
    condition: str | None


def reclaim_pattern(cfg: Profile) -> str:
    """The status reason of a job that Spot reclaims ended (as in its retry rule)."""
    rule = FARGATE_SPOT_RECLAIM if cfg.compute.platform is Platform.FARGATE else SPOT_RECLAIM
    return rule[1]


def definition(cfg: Profile, *, fair_share: bool) -> dict[str, Any]:
    """The Amazon States Language document (JSONPath), with ${...} substitutions."""

    def submit(queue: str, *, share: bool, attempts: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "JobName.$": f"$.{INPUT_JOB_NAME}",
            "JobQueue": "${" + queue + "}",
            "JobDefinition": "${JobDefinition}",
            "ContainerOverrides.$": f"$.{INPUT_OVERRIDES}",
        }
        if attempts is not None:
            # Fewer attempts on Spot than the job definition's: a job reclaimed
            # this often goes On-Demand instead of back to Spot. An override
            # replaces the whole strategy, so the same rules come along.
            # https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
            params["RetryStrategy"] = {
                "Attempts": attempts,
                "EvaluateOnExit": [
                    {field: pattern, "Action": action}
                    for field, pattern, action in retry_rules(cfg.compute.platform)
                ],
            }
        if share:
            # A fair-share queue rejects jobs without a share identifier; the
            # scheduling priority stays the job definition's.
            params["ShareIdentifier.$"] = f"$.{INPUT_SHARE_ID}"
        return {"Type": "Task", "Resource": SUBMIT_SYNC, "Parameters": params}

    pattern = reclaim_pattern(cfg)
    # The error Cause of a failed .sync Batch task is the job description as a
    # JSON string; its status reason is the last attempt's reason. Both key
    # spellings are tested, each guarded by IsPresent (a Choice on a missing
    # path is a runtime error).
    reclaimed = [
        {
            "And": [
                {"Variable": f"$.spotFailure.job.{key}", "IsPresent": True},
                {"Variable": f"$.spotFailure.job.{key}", "StringMatches": pattern},
            ]
        }
        for key in ("StatusReason", "statusReason")
    ]
    return {
        "Comment": "Run on Spot; when Spot reclaims end the job, run it again On-Demand",
        "StartAt": "RunOnSpot",
        "States": {
            "RunOnSpot": {
                **submit(
                    "SpotQueue", share=fair_share, attempts=cfg.scheduling.escalate_after_attempts
                ),
                "ResultPath": "$.spot",
                "Catch": [
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "ResultPath": "$.spotError",
                        "Next": "ReadFailure",
                    }
                ],
                "End": True,
            },
            "ReadFailure": {
                "Type": "Pass",
                "Parameters": {"job.$": "States.StringToJson($.spotError.Cause)"},
                "ResultPath": "$.spotFailure",
                "Next": "WasReclaimed",
            },
            "WasReclaimed": {
                "Type": "Choice",
                "Choices": [{"Or": reclaimed, "Next": "RunOnDemand"}],
                "Default": "FailedOnSpot",
            },
            "RunOnDemand": {
                **submit("OnDemandQueue", share=False),
                "ResultPath": "$.onDemand",
                "End": True,
            },
            "FailedOnSpot": {
                "Type": "Fail",
                "Error": "JobFailed",
                "Cause": "The job failed on Spot for a reason other than a Spot reclaim",
            },
        },
    }


def add_escalation(
    t: Template, cfg: Profile, *, queues: Queues, job_definition: Ref
) -> Escalation | None:
    if queues.escalation is None:
        return None
    cond = queues.escalation.condition
    extra: dict[str, object] = {"Condition": cond} if cond else {}
    spot, on_demand = queues.queues[0], queues.escalation
    role = t.add_resource(
        Role(
            naming.ESCALATION_ROLE,
            **extra,
            AssumeRolePolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Principal=Principal("Service", ["states.amazonaws.com"]),
                        Action=[AssumeRole],
                    )
                ],
            ),
            Policies=[
                Policy(
                    PolicyName="submit-and-follow-batch-jobs",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            # Only this stack's two queues and its job definition.
                            Statement(
                                Sid="SubmitToTheTwoQueues",
                                Effect=Allow,
                                Action=[batch.SubmitJob],
                                Resource=[spot.ref, on_demand.ref, job_definition],
                            ),
                            # .sync cancels the job when the execution is stopped.
                            Statement(
                                Sid="StopItsJobs",
                                Effect=Allow,
                                Action=[batch.TerminateJob],
                                Resource=[
                                    Sub(
                                        "arn:${AWS::Partition}:batch:${AWS::Region}"
                                        ":${AWS::AccountId}:job/*"
                                    )
                                ],
                            ),
                            # DescribeJobs takes no resource type: "*" only.
                            Statement(
                                Sid="FollowJobs",
                                Effect=Allow,
                                Action=[batch.DescribeJobs],
                                Resource=["*"],
                            ),
                            Statement(
                                Sid="ManagedSyncRule",
                                Effect=Allow,
                                Action=[events.PutTargets, events.PutRule, events.DescribeRule],
                                Resource=[
                                    Sub(
                                        "arn:${AWS::Partition}:events:${AWS::Region}"
                                        f":${{AWS::AccountId}}:rule/{SYNC_RULE}"
                                    )
                                ],
                            ),
                        ],
                    ),
                )
            ],
            Tags=stack_tags(cfg, component="escalation"),
        )
    )
    machine = t.add_resource(
        StateMachine(
            naming.ESCALATION_STATE_MACHINE,
            **extra,
            StateMachineType="STANDARD",
            RoleArn=GetAtt(role, "Arn"),
            # A compact Sub'd JSON string (templates must stay under the 51,200
            # bytes of --template-body), not a Definition object: task ARNs name
            # the partition (aws-cn, aws-us-gov), which cfn-lint's ASL schema
            # for Definition objects does not allow (E3601 wants "arn:aws:").
            DefinitionString=Sub(
                json.dumps(definition(cfg, fair_share=spot.fair_share), separators=(",", ":")),
                SpotQueue=spot.ref,
                OnDemandQueue=on_demand.ref,
                JobDefinition=job_definition,
            ),
            Tags=stack_tags(cfg, component="escalation"),
        )
    )
    return Escalation(state_machine=Ref(machine), condition=cond)
