"""Shared by the events rules (src/cfgen/lint/rules/events/)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from cfgen.lint import model as mdl

EVENTS = "https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html"
SNS_PERMS = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/"
    "eb-use-resource-based.html#eb-sns-permissions"
)
ALARM_NOTIFY = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html"
)
EVENTS_PRINCIPAL = "events.amazonaws.com"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
MANAGED_SNS_KEY = "alias/aws/sns"
JOB_STATE_CHANGE = "Batch Job State Change"
# Top level of every EventBridge event; ``detail`` is Batch's JobDetail.
ENVELOPE = frozenset(
    {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
)


def pattern(m: mdl.Model, rule: mdl.Variant) -> dict[str, Any] | None:
    pattern = rule.props.get("EventPattern")
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError:
            return None
    return pattern if isinstance(pattern, dict) else None


def is_job_state_change(pattern: dict[str, Any]) -> bool:
    sources = mdl.as_list(pattern.get("source"))
    if "aws.batch" not in sources:
        return False
    kinds = mdl.as_list(pattern.get("detail-type"))
    return not kinds or JOB_STATE_CHANGE in kinds


@cache
def job_detail_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("batch").shape_for("JobDetail")


TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\['([^']+)'\]")


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
        mt = TOKEN.match(rest, pos)
        if not mt:
            return None
        tokens.append(mt.group(1) or mt.group(3) if mt.group(2) is None else None)
        pos = mt.end()
    if not tokens:
        return True
    first = tokens[0]
    if first not in ENVELOPE:
        return False
    if first != "detail":
        return True
    shape = job_detail_shape()
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


def topic_policies(m: mdl.Model, topic_id: str) -> list[mdl.Variant]:
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


def topic_policy_allows_events(m: mdl.Model, topic_id: str) -> bool:
    return any(
        doc_allows(pol.props.get("PolicyDocument"), EVENTS_PRINCIPAL, "sns:Publish")
        for pol in topic_policies(m, topic_id)
    )


def doc_allows(doc: Any, service: str, *actions: str) -> bool:
    for st in mdl.statements(doc):
        if st.get("Effect") != "Allow" or not mdl.service_principal(st, service):
            continue
        if all(mdl.action_allows(st.get("Action"), a) for a in actions):
            return True
    return False


def keys_refusing(m: mdl.Model, topic: str, scenario: mdl.Scenario, service: str) -> list[str]:
    """KMS keys of an encrypted topic whose key policy keeps ``service`` out.

    The AWS managed key comes back as ``alias/aws/sns`` (its policy cannot be
    changed); keys from outside the template are not followed.
    """
    out: list[str] = []
    for tv in m.linked_variants({"Ref": topic}, scenario):
        raw = tv.props.get("KmsMasterKeyId")
        if raw is None:
            continue
        if m.text(raw) == MANAGED_SNS_KEY:
            out.append(MANAGED_SNS_KEY)
            continue
        key = m.target(raw)
        if key and m.type_of(key) == "AWS::KMS::Alias":
            aliases = m.linked_variants({"Ref": key}, tv.scenario)
            key = m.target(aliases[0].props.get("TargetKeyId")) if aliases else None
        if not key or m.type_of(key) != "AWS::KMS::Key":
            continue
        for kv in m.linked_variants({"Ref": key}, tv.scenario):
            doc = kv.props.get("KeyPolicy")
            if not doc_allows(doc, service, "kms:GenerateDataKey", "kms:Decrypt"):
                out.append(key)
    return out


def sns_targets(m: mdl.Model) -> list[tuple[mdl.Variant, int, dict[str, Any], str]]:
    out = []
    for rule in m.all_variants("AWS::Events::Rule"):
        for i, target in enumerate(mdl.as_list(rule.props.get("Targets"))):
            if not isinstance(target, dict):
                continue
            topic = m.target(target.get("Arn"))
            if topic and m.type_of(topic) == "AWS::SNS::Topic":
                out.append((rule, i, target, topic))
    return out


ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
# Condition operators that can pin aws:SourceArn to one ARN (keys are case-insensitive).
SOURCE_ARN_OPERATORS = frozenset({"ArnEquals", "ArnLike", "StringEquals", "StringLike"})


def action_topic(m: mdl.Model, value: Any) -> str | None:
    """The template's SNS topic an alarm action publishes to (Ref or GetAtt TopicArn)."""
    topic = m.target(value)
    if topic is None or m.type_of(topic) != "AWS::SNS::Topic":
        return None
    att = mdl.get_att(value)
    if att is not None and att[1] != "TopicArn":
        return None
    return topic


def scoped_elsewhere(m: mdl.Model, statement: dict[str, Any], alarm: str) -> bool:
    """Does the statement pin aws:SourceArn to ARNs that are decidably not ``alarm``'s?

    Only ``Fn::GetAtt <resource>.Arn`` values are decided; a Sub or a literal
    pattern could match the alarm, so the statement still counts.
    """
    cond = statement.get("Condition")
    if not isinstance(cond, dict):
        return False
    for op, block in cond.items():
        if op not in SOURCE_ARN_OPERATORS or not isinstance(block, dict):
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


def admits_alarm(m: mdl.Model, doc: Any, alarm: str) -> bool:
    for st in mdl.statements(doc):
        if st.get("Effect") != "Allow" or not mdl.service_principal(st, CLOUDWATCH_PRINCIPAL):
            continue
        if mdl.action_allows(st.get("Action"), "sns:Publish") and not scoped_elsewhere(
            m, st, alarm
        ):
            return True
    return False


def policy_admits(m: mdl.Model, topic: str, alarm: mdl.Variant) -> bool:
    """False when, in some deployment, the template's policies of ``topic`` keep ``alarm`` out.

    A topic no TopicPolicy / TopicInlinePolicy covers keeps SNS's default policy,
    which admits the account's alarms. Each policy variant that can coexist with
    the alarm is checked together with every other policy variant that can
    coexist with both: one of them must admit the alarm.
    """
    policies = [p for p in topic_policies(m, topic) if mdl.compatible(p.scenario, alarm.scenario)]
    for pol in policies:
        joint = {**alarm.scenario, **pol.scenario}
        if not any(
            mdl.compatible(q.scenario, joint)
            and admits_alarm(m, q.props.get("PolicyDocument"), alarm.logical_id)
            for q in policies
        ):
            return False
    return True


#: SAM function event types that create an EventBridge rule
#: (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-eventbridgerule.html).
SAM_RULE_EVENTS = frozenset({"EventBridgeRule", "CloudWatchEvent"})


def batch_patterns(
    m: mdl.Model,
) -> list[tuple[tuple[str | int, ...], dict[str, Any], list[tuple[tuple[str | int, ...], Any]]]]:
    """(pattern path, pattern, [(transformer path, InputTransformer)]) of every rule on
    'Batch Job State Change' events: AWS::Events::Rule resources, and the
    EventBridgeRule / CloudWatchEvent events of AWS::Serverless::Function resources
    (cfn-lint does not expand SAM, so they are read as written)."""
    out: list[
        tuple[tuple[str | int, ...], dict[str, Any], list[tuple[tuple[str | int, ...], Any]]]
    ] = []
    for rule in m.all_variants("AWS::Events::Rule"):
        found = pattern(m, rule)
        if found is None or not is_job_state_change(found):
            continue
        targets = [
            (
                mdl.res_path(rule.logical_id, "Targets", i, "InputTransformer"),
                t.get("InputTransformer"),
            )
            for i, t in enumerate(mdl.as_list(rule.props.get("Targets")))
            if isinstance(t, dict)
        ]
        out.append((mdl.res_path(rule.logical_id, "EventPattern"), found, targets))
    for fn in m.all_variants("AWS::Serverless::Function"):
        events = fn.props.get("Events")
        for name, event in events.items() if isinstance(events, dict) else []:
            if not isinstance(event, dict) or event.get("Type") not in SAM_RULE_EVENTS:
                continue
            props = event.get("Properties")
            if not isinstance(props, dict):
                continue
            found = props.get("Pattern")
            if not isinstance(found, dict) or not is_job_state_change(found):
                continue
            base = ("Events", name, "Properties")
            targets = [
                (
                    mdl.res_path(fn.logical_id, *base, "InputTransformer"),
                    props.get("InputTransformer"),
                )
            ]
            out.append((mdl.res_path(fn.logical_id, *base, "Pattern"), found, targets))
    return out
