# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9542, E9543, E9544: events rules (topics)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import events as sup


class SnsTopicPolicyForEvents(base.BatchRule):
    id = "E9542"
    shortdesc = "SNS target without a topic policy for EventBridge"
    description = (
        "EventBridge can publish to an SNS topic only when the topic policy allows "
        "events.amazonaws.com sns:Publish (or the target has a RoleArn); otherwise "
        "every delivery fails silently."
    )
    source_url = sup.SNS_PERMS
    tags: ClassVar[list[str]] = ["resources", "events", "sns"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for rule, i, target, topic in sup.sns_targets(m):
            if target.get("RoleArn") or sup.topic_policy_allows_events(m, topic):
                continue
            out.add(
                mdl.res_path(rule.logical_id, "Targets", i, "Arn"),
                f"Topic {topic} has no policy allowing events.amazonaws.com to sns:Publish",
            )


class KmsTopicForEvents(base.BatchRule):
    id = "E9543"
    shortdesc = "KMS-encrypted SNS target whose key does not admit EventBridge"
    description = (
        "For an encrypted topic, the KMS key policy must allow events.amazonaws.com "
        "kms:GenerateDataKey* and kms:Decrypt. The AWS managed key alias/aws/sns cannot "
        "be changed, so it cannot be used."
    )
    source_url = sup.SNS_PERMS
    tags: ClassVar[list[str]] = ["resources", "events", "sns", "kms"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for rule, _, _, topic in sup.sns_targets(m):
            path = mdl.res_path(topic, "KmsMasterKeyId")
            for key in sup.keys_refusing(m, topic, rule.scenario, sup.EVENTS_PRINCIPAL):
                if key == sup.MANAGED_SNS_KEY:
                    out.add(
                        path, "alias/aws/sns cannot grant EventBridge; use a customer managed key"
                    )
                else:
                    out.add(
                        path,
                        f"Key {key} policy does not allow events.amazonaws.com "
                        "kms:GenerateDataKey* and kms:Decrypt",
                    )


class SnsTopicPolicyForAlarms(base.BatchRule):
    id = "E9544"
    shortdesc = "CloudWatch alarm action on an SNS topic whose policy does not admit CloudWatch"
    description = (
        "A topic policy replaces SNS's default policy, which lets the account's CloudWatch "
        "alarms publish; when it admits only events.amazonaws.com, as policies written for "
        "EventBridge often do, alarm notifications fail with 'is not authorized to perform: "
        "SNS:Publish' in the alarm history and nobody is told. The policy needs an Allow of "
        "sns:Publish for cloudwatch.amazonaws.com (an aws:SourceArn condition must name the "
        "alarm); an encrypted topic's KMS key must allow cloudwatch.amazonaws.com "
        "kms:GenerateDataKey* and kms:Decrypt, which alias/aws/sns cannot."
    )
    source_url = sup.ALARM_NOTIFY
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "sns", "kms"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            lid = alarm.logical_id
            for prop in sup.ALARM_ACTIONS:
                for i, action in enumerate(mdl.as_list(alarm.props.get(prop))):
                    topic = sup.action_topic(m, action)
                    if topic is None:
                        continue
                    path = mdl.res_path(lid, prop, i)
                    if not sup.policy_admits(m, topic, alarm):
                        out.add(
                            path,
                            f"Topic {topic} policy does not allow cloudwatch.amazonaws.com "
                            f"to sns:Publish for alarm {lid}",
                        )
                    for key in sup.keys_refusing(
                        m, topic, alarm.scenario, sup.CLOUDWATCH_PRINCIPAL
                    ):
                        if key == sup.MANAGED_SNS_KEY:
                            msg = (
                                f"Topic {topic} uses alias/aws/sns, which cannot grant "
                                "CloudWatch; use a customer managed key"
                            )
                        else:
                            msg = (
                                f"Topic {topic} key {key} policy does not allow "
                                "cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt"
                            )
                        out.add(path, msg)
