"""Alerts: failed jobs reach an SNS topic (and optionally an e-mail address).

Emits AlertTopic (AWS::SNS::Topic), AlertTopicPolicy (AWS::SNS::TopicPolicy),
AlertEmailSubscription (AWS::SNS::Subscription, only with AlertEmail),
JobFailedRule and JobQueueBlockedRule (AWS::Events::Rule) and, in profiles
with a retry alarm, RetryRateAlarm (AWS::CloudWatch::Alarm). The cost budget is
a separate stack (cfgen.budget): AWS::Budgets::Budget does not exist in every region.

Classic mistakes avoided on purpose: "Batch Job State Change" events carry the
state in ``detail.status`` (not ``jobStatus``); a topic policy replaces SNS's
default one, so it must itself let ``events.amazonaws.com`` (the rule) and
``cloudwatch.amazonaws.com`` (the alarm) publish; and the alarm watches only
metrics AWS Batch really publishes (namespace ``AWS/Batch``, dimension
``JobQueueName``; lint rule E9550 holds every alarm to that table).
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import sns
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    Condition,
    ConditionElement,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AccountId, GetAtt, Ref, Select, Split, Sub, Template
from troposphere.cloudwatch import Alarm, Metric, MetricDataQuery, MetricDimension, MetricStat
from troposphere.events import InputTransformer, Rule, Target
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy

from cfgen import naming
from cfgen.config import Platform, Profile
from cfgen.parameters import Params
from cfgen.tags import stack_tags

#: The event and the field Batch really sends.
#: https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html
BATCH_EVENT_SOURCE = "aws.batch"
BATCH_JOB_STATE_CHANGE = "Batch Job State Change"

#: AWS Batch's job metrics: every one is published in this namespace with the
#: single dimension JobQueueName.
#: https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html
BATCH_METRICS_NAMESPACE = "AWS/Batch"
BATCH_METRICS_DIMENSION = "JobQueueName"
#: The retry alarm looks at one hour and ignores hours with fewer attempts than
#: this (two reclaims out of three attempts are noise, not a trend).
RETRY_WINDOW_SECONDS = 3600
RETRY_MIN_ATTEMPTS = 10


@dataclass(frozen=True)
class Monitoring:
    topic: Ref


def add_monitoring(t: Template, cfg: Profile, *, params: Params, job_queue: Ref) -> Monitoring:
    """The alert topic and rules; the budget (if the profile has one) notifies the topic."""
    topic = t.add_resource(
        Topic(
            naming.ALERT_TOPIC,
            DisplayName="cfgen batch alerts",
            Tags=stack_tags(cfg, component="monitoring"),
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_26",
                            "comment": (
                                "Not encrypted with the AWS-managed SNS key on purpose: its key"
                                " policy cannot let EventBridge publish, so alerts would be"
                                " dropped. Messages hold job names and reasons, not data."
                            ),
                        }
                    ]
                }
            },
        )
    )
    rule = t.add_resource(
        Rule(
            naming.JOB_FAILED_RULE,
            Description="Failed jobs of this stack's queue go to the alert topic",
            State="ENABLED",
            Tags=stack_tags(cfg, component="monitoring"),
            EventPattern={
                "source": [BATCH_EVENT_SOURCE],
                "detail-type": [BATCH_JOB_STATE_CHANGE],
                # One alert per failed job: an array's children each send their
                # own event besides the parent's, so events that carry an array
                # index (children) are left out; the parent's event stands for
                # the array. Non-array jobs have no arrayProperties at all.
                # https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html
                # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
                "detail": {
                    "status": ["FAILED"],
                    "jobQueue": [job_queue],
                    "arrayProperties": {"index": [{"exists": False}]},
                },
            },
            Targets=[
                Target(
                    Id="AlertTopic",
                    Arn=Ref(topic),
                    InputTransformer=InputTransformer(
                        InputPathsMap={
                            "name": "$.detail.jobName",
                            "id": "$.detail.jobId",
                            "reason": "$.detail.statusReason",
                            "queue": "$.detail.jobQueue",
                        },
                        InputTemplate='"Batch job <name> (<id>) FAILED in <queue>: <reason>"',
                    ),
                )
            ],
        )
    )
    blocked = _add_queue_blocked_rule(t, cfg, topic=Ref(topic), job_queue=job_queue)
    statements = [
        _publisher(
            "EventBridgePublishesJobFailures",
            "events.amazonaws.com",
            Ref(topic),
            ArnEquals({"aws:SourceArn": [GetAtt(rule, "Arn"), GetAtt(blocked, "Arn")]}),
        )
    ]
    if params.retry_alarm_percent is not None:
        alarm = _add_retry_alarm(
            t, cfg, threshold=params.retry_alarm_percent, topic=Ref(topic), job_queue=job_queue
        )
        statements.append(
            _publisher(
                "CloudWatchPublishesRetryAlarm",
                "cloudwatch.amazonaws.com",
                Ref(topic),
                ArnEquals({"aws:SourceArn": GetAtt(alarm, "Arn")}),
                StringEquals({"aws:SourceAccount": AccountId}),
            )
        )
    # The cost budget lives in its own small stack (cfgen.budget): the budget
    # resource type is missing from CloudFormation in many regions. Its
    # notifications may go to this topic.
    budgets_arn = Sub("arn:${AWS::Partition}:budgets::${AWS::AccountId}:*")
    statements.append(
        _publisher(
            "BudgetsPublishesCostAlerts",
            "budgets.amazonaws.com",
            Ref(topic),
            StringEquals({"aws:SourceAccount": AccountId}),
            ArnLike({"aws:SourceArn": budgets_arn}),
        )
    )
    t.add_resource(
        TopicPolicy(
            naming.ALERT_TOPIC_POLICY,
            Topics=[Ref(topic)],
            PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
        )
    )
    t.add_resource(
        SubscriptionResource(
            naming.ALERT_EMAIL_SUBSCRIPTION,
            Condition=naming.HAS_ALERT_EMAIL,
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=params.alert_email,
        )
    )
    return Monitoring(topic=Ref(topic))


def _publisher(sid: str, service: str, topic: Ref, *conditions: ConditionElement) -> Statement:
    """Let one AWS service publish to the topic, under the given conditions.

    A topic policy replaces SNS's default policy, so every service that
    publishes to the topic needs its own statement.
    """
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("Service", [service]),
        Action=[sns.Publish],
        Resource=[topic],
        Condition=Condition(conditions[0] if len(conditions) == 1 else list(conditions)),
    )


def _retry_alarm_text(cfg: Profile) -> str:
    """What the alarm means and what to do, in the profile's own terms."""
    fargate = cfg.compute.platform is Platform.FARGATE
    if fargate:
        cause, remedy = "Fargate Spot interruptions", "add subnets (AZs)"
    else:
        cause, remedy = "Spot reclaims (Host EC2 ... terminated)", "add instance types or subnets"
    if cfg.compute.on_demand_fallback:
        remedy += ", or let the " + ("Fargate" if fargate else "On-Demand") + " fallback take more"
    return (
        f"Many of this queue's job attempts were retried within an hour, usually {cause}."
        f" Work since the last checkpoint is paid twice: {remedy}."
    )


def _add_retry_alarm(
    t: Template, cfg: Profile, *, threshold: Ref, topic: Ref, job_queue: Ref
) -> Alarm:
    """Alarm when Spot reclaims (or other retried failures) eat the queue's work.

    Ratio of JobsRetried (attempts that failed and went back to RUNNABLE) to
    JobsMovedToStarting (attempts placed on capacity) over one hour. Batch emits
    these only on state transitions, so an idle hour has no data: missing data
    is not breaching.

    The queue's name is the part of its ARN (what Ref returns) after the "/";
    JobQueueArn is the only attribute CloudFormation returns for a job queue.
    The ARN is split with a "/" appended: "arn:...:job-queue/NAME/" gives
    [arn:...:job-queue, NAME, ""] (Fn::Split keeps the empty string after a
    trailing delimiter), so index 1 is the same NAME, and index 1 also exists
    when a tool cannot resolve the Ref: cfripper --resolve (pycfmodel) replaces
    it with a placeholder without "/", where Select(1, Split("/", Ref)) gave it
    [] instead of a string and it refused every template (exit 3).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-batch-jobqueue.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-split.html
    """
    queue_name = Select(1, Split("/", Sub("${QueueArn}/", QueueArn=job_queue)))

    def batch_metric(query_id: str, metric_name: str) -> MetricDataQuery:
        return MetricDataQuery(
            Id=query_id,
            ReturnData=False,
            MetricStat=MetricStat(
                Metric=Metric(
                    Namespace=BATCH_METRICS_NAMESPACE,
                    MetricName=metric_name,
                    Dimensions=[MetricDimension(Name=BATCH_METRICS_DIMENSION, Value=queue_name)],
                ),
                Period=RETRY_WINDOW_SECONDS,
                Stat="Sum",
            ),
        )

    return t.add_resource(
        Alarm(
            naming.RETRY_ALARM,
            AlarmDescription=_retry_alarm_text(cfg),
            Metrics=[
                batch_metric("retried", "JobsRetried"),
                batch_metric("started", "JobsMovedToStarting"),
                MetricDataQuery(
                    Id="retryPercent",
                    Label="Retried attempts, % of attempts started",
                    Expression=(
                        f"IF(started >= {RETRY_MIN_ATTEMPTS}, 100 * FILL(retried, 0) / started, 0)"
                    ),
                    ReturnData=True,
                ),
            ],
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Threshold=threshold,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            TreatMissingData="notBreaching",
            AlarmActions=[topic],
            Tags=stack_tags(cfg, component="monitoring"),
        )
    )


#: EventBridge detail-type of a job at the head of a queue that cannot be placed;
#: detail is the JobDetail, with the reason in detail.statusReason.
#: https://docs.aws.amazon.com/batch/latest/userguide/batch-job-queue-blocked-events.html
BATCH_JOB_QUEUE_BLOCKED = "Batch Job Queue Blocked"
#: One line per blocked-queue alert: the reason Batch gives, then the fix for
#: each reason it documents (job_stuck_in_runnable.html); `cfgen doctor` maps
#: the exact message.
QUEUE_BLOCKED_FIX = (
    "Fix: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - add instance types or Availability Zones;"
    " MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - shrink the job or add larger instance types;"
    " MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - raise MaxvCpus;"
    " MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS - use the Batch service-linked role;"
    " ACTION_REQUIRED - repair the INVALID compute environment."
    " Details: cfgen doctor --stack ${AWS::StackName}"
)


def _add_queue_blocked_rule(t: Template, cfg: Profile, *, topic: Ref, job_queue: Ref) -> Rule:
    """Blocked-queue events of this stack's queue go to the alert topic with reason and fix.

    The queue's JobStateTimeLimitActions cancel the blocked job later (queues.py);
    this tells a person at once, and for ACTION_REQUIRED, which no action covers.
    """
    return t.add_resource(
        Rule(
            naming.JOB_QUEUE_BLOCKED_RULE,
            Description="Jobs blocking this stack's queue go to the alert topic",
            State="ENABLED",
            Tags=stack_tags(cfg, component="monitoring"),
            EventPattern={
                "source": [BATCH_EVENT_SOURCE],
                "detail-type": [BATCH_JOB_QUEUE_BLOCKED],
                "detail": {"jobQueue": [job_queue]},
            },
            Targets=[
                Target(
                    Id="AlertTopic",
                    Arn=topic,
                    InputTransformer=InputTransformer(
                        InputPathsMap={
                            "name": "$.detail.jobName",
                            "id": "$.detail.jobId",
                            "reason": "$.detail.statusReason",
                            "queue": "$.detail.jobQueue",
                        },
                        InputTemplate=Sub(
                            '"Batch queue <queue> is blocked by job <name> (<id>): <reason>. '
                            + QUEUE_BLOCKED_FIX
                            + '"'
                        ),
                    ),
                )
            ],
        )
    )
