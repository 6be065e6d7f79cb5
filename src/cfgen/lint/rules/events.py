# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for EventBridge rules on Batch events, their SNS targets, and CloudWatch
alarms publishing to SNS topics (E9040-E9044)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfgen.lint import _model as mdl

_EVENTS = "https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html"
_SNS_PERMS = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/"
    "eb-use-resource-based.html#eb-sns-permissions"
)
_ALARM_NOTIFY = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html"
)
_EVENTS_PRINCIPAL = "events.amazonaws.com"
_CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
_MANAGED_SNS_KEY = "alias/aws/sns"
_JOB_STATE_CHANGE = "Batch Job State Change"
# Top level of every EventBridge event; ``detail`` is Batch's JobDetail.
_ENVELOPE = frozenset(
    {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
)


def _pattern(m: mdl.Model, rule: mdl.Variant) -> dict[str, Any] | None:
    pattern = rule.props.get("EventPattern")
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError:
            return None
    return pattern if isinstance(pattern, dict) else None


def _is_job_state_change(pattern: dict[str, Any]) -> bool:
    sources = mdl.as_list(pattern.get("source"))
    if "aws.batch" not in sources:
        return False
    kinds = mdl.as_list(pattern.get("detail-type"))
    return not kinds or _JOB_STATE_CHANGE in kinds


class JobStatusField(CloudFormationLintRule):
    id = "E9040"
    shortdesc = "Batch event pattern filters detail.jobStatus"
    description = (
        "'Batch Job State Change' events carry the job state in detail.status; a "
        "pattern on detail.jobStatus never matches."
    )
    source_url = _EVENTS
    tags: ClassVar[list[str]] = ["resources", "events", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for rule in m.all_variants("AWS::Events::Rule"):
            pattern = _pattern(m, rule)
            if pattern is None or not _is_job_state_change(pattern):
                continue
            detail = pattern.get("detail")
            if isinstance(detail, dict) and "jobStatus" in detail:
                out.add(
                    mdl.res_path(rule.logical_id, "EventPattern", "detail", "jobStatus"),
                    "Filter on detail.status; Batch events have no detail.jobStatus",
                )
        return out.matches()


@cache
def _job_detail_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("batch").shape_for("JobDetail")


_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\['([^']+)'\]")


def path_exists(path: str) -> bool | None:
    """Does a JSONPath like ``$.detail.container.exitCode`` exist in the event?

    None when the path cannot be parsed (left to cfn-lint).
    """
    if not path.startswith("$"):
        return None
    rest = path[1:]
    tokens: list[str | None] = []
    pos = 0
    while pos < len(rest):
        mt = _TOKEN.match(rest, pos)
        if not mt:
            return None
        tokens.append(mt.group(1) or mt.group(3) if mt.group(2) is None else None)
        pos = mt.end()
    if not tokens:
        return True
    first = tokens[0]
    if first not in _ENVELOPE:
        return False
    if first != "detail":
        return True
    shape = _job_detail_shape()
    for tok in tokens[1:]:
        kind = shape.type_name
        if kind == "map":
            shape = shape.value
            continue
        if tok is None:  # list index
            if kind != "list":
                return False
            shape = shape.member
            continue
        if kind == "list":
            shape = shape.member
            kind = shape.type_name
        if kind != "structure" or tok not in shape.members:
            return False
        shape = shape.members[tok]
    return True


class InputPathMissing(CloudFormationLintRule):
    id = "E9041"
    shortdesc = "InputPathsMap path not in the Batch job event"
    description = (
        "InputTransformer paths of a 'Batch Job State Change' rule must exist in the "
        "event (envelope fields, or detail fields of Batch's JobDetail); a missing path "
        "renders as an empty value."
    )
    source_url = _EVENTS
    tags: ClassVar[list[str]] = ["resources", "events", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for rule in m.all_variants("AWS::Events::Rule"):
            pattern = _pattern(m, rule)
            if pattern is None or not _is_job_state_change(pattern):
                continue
            for i, target in enumerate(mdl.as_list(rule.props.get("Targets"))):
                if not isinstance(target, dict):
                    continue
                xf = target.get("InputTransformer")
                paths = xf.get("InputPathsMap") if isinstance(xf, dict) else None
                if not isinstance(paths, dict):
                    continue
                for name, p in paths.items():
                    if isinstance(p, str) and path_exists(p) is False:
                        out.add(
                            mdl.res_path(
                                rule.logical_id,
                                "Targets",
                                i,
                                "InputTransformer",
                                "InputPathsMap",
                                name,
                            ),
                            f"Path {p} does not exist in a Batch Job State Change event",
                        )
        return out.matches()


def _topic_policies(m: mdl.Model, topic_id: str) -> list[mdl.Variant]:
    """Variants of the TopicPolicy / TopicInlinePolicy resources that set a topic's policy."""
    out = [
        pol
        for pol in m.all_variants("AWS::SNS::TopicPolicy")
        if any(m.target(t) == topic_id for t in mdl.as_list(pol.props.get("Topics")))
    ]
    out += [
        pol
        for pol in m.all_variants("AWS::SNS::TopicInlinePolicy")
        if m.target(pol.props.get("TopicArn")) == topic_id
    ]
    return out


def _topic_policy_allows_events(m: mdl.Model, topic_id: str) -> bool:
    return any(
        _doc_allows(pol.props.get("PolicyDocument"), _EVENTS_PRINCIPAL, "sns:Publish")
        for pol in _topic_policies(m, topic_id)
    )


def _doc_allows(doc: Any, service: str, *actions: str) -> bool:
    for st in mdl.statements(doc):
        if st.get("Effect") != "Allow" or not mdl.service_principal(st, service):
            continue
        if all(mdl.action_allows(st.get("Action"), a) for a in actions):
            return True
    return False


def _keys_refusing(m: mdl.Model, topic: str, scenario: mdl.Scenario, service: str) -> list[str]:
    """KMS keys of an encrypted topic whose key policy keeps ``service`` out.

    The AWS managed key comes back as ``alias/aws/sns`` (its policy cannot be
    changed); keys from outside the template are not followed.
    """
    out: list[str] = []
    for tv in m.linked_variants({"Ref": topic}, scenario):
        raw = tv.props.get("KmsMasterKeyId")
        if raw is None:
            continue
        if m.text(raw) == _MANAGED_SNS_KEY:
            out.append(_MANAGED_SNS_KEY)
            continue
        key = m.target(raw)
        if key and m.type_of(key) == "AWS::KMS::Alias":
            aliases = m.linked_variants({"Ref": key}, tv.scenario)
            key = m.target(aliases[0].props.get("TargetKeyId")) if aliases else None
        if not key or m.type_of(key) != "AWS::KMS::Key":
            continue
        for kv in m.linked_variants({"Ref": key}, tv.scenario):
            doc = kv.props.get("KeyPolicy")
            if not _doc_allows(doc, service, "kms:GenerateDataKey", "kms:Decrypt"):
                out.append(key)
    return out


def _sns_targets(m: mdl.Model) -> list[tuple[mdl.Variant, int, dict[str, Any], str]]:
    out = []
    for rule in m.all_variants("AWS::Events::Rule"):
        for i, target in enumerate(mdl.as_list(rule.props.get("Targets"))):
            if not isinstance(target, dict):
                continue
            topic = m.target(target.get("Arn"))
            if topic and m.type_of(topic) == "AWS::SNS::Topic":
                out.append((rule, i, target, topic))
    return out


class SnsTopicPolicyForEvents(CloudFormationLintRule):
    id = "E9042"
    shortdesc = "SNS target without a topic policy for EventBridge"
    description = (
        "EventBridge can publish to an SNS topic only when the topic policy allows "
        "events.amazonaws.com sns:Publish (or the target has a RoleArn); otherwise "
        "every delivery fails silently."
    )
    source_url = _SNS_PERMS
    tags: ClassVar[list[str]] = ["resources", "events", "sns"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for rule, i, target, topic in _sns_targets(m):
            if target.get("RoleArn") or _topic_policy_allows_events(m, topic):
                continue
            out.add(
                mdl.res_path(rule.logical_id, "Targets", i, "Arn"),
                f"Topic {topic} has no policy allowing events.amazonaws.com to sns:Publish",
            )
        return out.matches()


class KmsTopicForEvents(CloudFormationLintRule):
    id = "E9043"
    shortdesc = "KMS-encrypted SNS target whose key does not admit EventBridge"
    description = (
        "For an encrypted topic, the KMS key policy must allow events.amazonaws.com "
        "kms:GenerateDataKey* and kms:Decrypt. The AWS managed key alias/aws/sns cannot "
        "be changed, so it cannot be used."
    )
    source_url = _SNS_PERMS
    tags: ClassVar[list[str]] = ["resources", "events", "sns", "kms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for rule, _, _, topic in _sns_targets(m):
            path = mdl.res_path(topic, "KmsMasterKeyId")
            for key in _keys_refusing(m, topic, rule.scenario, _EVENTS_PRINCIPAL):
                if key == _MANAGED_SNS_KEY:
                    out.add(
                        path, "alias/aws/sns cannot grant EventBridge; use a customer managed key"
                    )
                else:
                    out.add(
                        path,
                        f"Key {key} policy does not allow events.amazonaws.com "
                        "kms:GenerateDataKey* and kms:Decrypt",
                    )
        return out.matches()


_ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
# Condition operators that can pin aws:SourceArn to one ARN (keys are case-insensitive).
_SOURCE_ARN_OPERATORS = frozenset({"ArnEquals", "ArnLike", "StringEquals", "StringLike"})


def _action_topic(m: mdl.Model, value: Any) -> str | None:
    """The template's SNS topic an alarm action publishes to (Ref or GetAtt TopicArn)."""
    topic = m.target(value)
    if topic is None or m.type_of(topic) != "AWS::SNS::Topic":
        return None
    att = mdl.get_att(value)
    if att is not None and att[1] != "TopicArn":
        return None
    return topic


def _scoped_elsewhere(m: mdl.Model, statement: dict[str, Any], alarm: str) -> bool:
    """Does the statement pin aws:SourceArn to ARNs that are decidably not ``alarm``'s?

    Only ``Fn::GetAtt <resource>.Arn`` values are decided; a Sub or a literal
    pattern could match the alarm, so the statement still counts.
    """
    cond = statement.get("Condition")
    if not isinstance(cond, dict):
        return False
    for op, block in cond.items():
        if op not in _SOURCE_ARN_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if not isinstance(key, str) or key.lower() != "aws:sourcearn":
                continue
            sources = [mdl.get_att(v) for v in mdl.as_list(values)]
            if sources and all(
                s is not None and s[1] == "Arn" and s[0] in m.resources and s[0] != alarm
                for s in sources
            ):
                return True
    return False


def _admits_alarm(m: mdl.Model, doc: Any, alarm: str) -> bool:
    for st in mdl.statements(doc):
        if st.get("Effect") != "Allow" or not mdl.service_principal(st, _CLOUDWATCH_PRINCIPAL):
            continue
        if mdl.action_allows(st.get("Action"), "sns:Publish") and not _scoped_elsewhere(
            m, st, alarm
        ):
            return True
    return False


def _policy_admits(m: mdl.Model, topic: str, alarm: mdl.Variant) -> bool:
    """False when, in some deployment, the template's policies of ``topic`` keep ``alarm`` out.

    A topic no TopicPolicy / TopicInlinePolicy covers keeps SNS's default policy,
    which admits the account's alarms. Each policy variant that can coexist with
    the alarm is checked together with every other policy variant that can
    coexist with both: one of them must admit the alarm.
    """
    policies = [p for p in _topic_policies(m, topic) if mdl.compatible(p.scenario, alarm.scenario)]
    for pol in policies:
        joint = {**alarm.scenario, **pol.scenario}
        if not any(
            mdl.compatible(q.scenario, joint)
            and _admits_alarm(m, q.props.get("PolicyDocument"), alarm.logical_id)
            for q in policies
        ):
            return False
    return True


class SnsTopicPolicyForAlarms(CloudFormationLintRule):
    id = "E9044"
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
    source_url = _ALARM_NOTIFY
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "sns", "kms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            lid = alarm.logical_id
            for prop in _ALARM_ACTIONS:
                for i, action in enumerate(mdl.as_list(alarm.props.get(prop))):
                    topic = _action_topic(m, action)
                    if topic is None:
                        continue
                    path = mdl.res_path(lid, prop, i)
                    if not _policy_admits(m, topic, alarm):
                        out.add(
                            path,
                            f"Topic {topic} policy does not allow cloudwatch.amazonaws.com "
                            f"to sns:Publish for alarm {lid}",
                        )
                    for key in _keys_refusing(m, topic, alarm.scenario, _CLOUDWATCH_PRINCIPAL):
                        if key == _MANAGED_SNS_KEY:
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
        return out.matches()
