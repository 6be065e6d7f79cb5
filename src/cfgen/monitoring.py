"""Alerts: failed jobs reach an SNS topic (and optionally an e-mail address).

Emits AlertTopic (AWS::SNS::Topic), AlertTopicPolicy (AWS::SNS::TopicPolicy),
AlertEmailSubscription (AWS::SNS::Subscription, only with AlertEmail) and
JobFailedRule (AWS::Events::Rule).

Two classic mistakes are avoided on purpose: "Batch Job State Change" events
carry the state in ``detail.status`` (not ``jobStatus``), and an SNS topic only
accepts EventBridge deliveries when its policy lets ``events.amazonaws.com``
publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import sns
from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Template
from troposphere.events import InputTransformer, Rule, Target
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy

from cfgen import naming
from cfgen.config import Profile
from cfgen.parameters import Params
from cfgen.tags import stack_tags

#: The event and the field Batch really sends.
#: https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html
BATCH_EVENT_SOURCE = "aws.batch"
BATCH_JOB_STATE_CHANGE = "Batch Job State Change"


@dataclass(frozen=True)
class Monitoring:
    topic: Ref


def add_monitoring(t: Template, cfg: Profile, *, params: Params, job_queue: Ref) -> Monitoring:
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
            EventPattern={
                "source": [BATCH_EVENT_SOURCE],
                "detail-type": [BATCH_JOB_STATE_CHANGE],
                "detail": {"status": ["FAILED"], "jobQueue": [job_queue]},
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
    t.add_resource(
        TopicPolicy(
            naming.ALERT_TOPIC_POLICY,
            Topics=[Ref(topic)],
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="EventBridgePublishesJobFailures",
                        Effect=Allow,
                        Principal=Principal("Service", ["events.amazonaws.com"]),
                        Action=[sns.Publish],
                        Resource=[Ref(topic)],
                        Condition=Condition(ArnEquals({"aws:SourceArn": GetAtt(rule, "Arn")})),
                    )
                ],
            ),
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
