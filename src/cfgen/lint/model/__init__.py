"""Shared view of a template for cfgen's Batch rules, split by concern.

``template`` resolves conditions and parameters into per-scenario variants,
``findings`` collects matches, ``values`` holds UNKNOWN and small accessors,
``instances`` the EC2 instance-type knowledge, ``retry`` the RetryStrategy
semantics and ``iam`` the policy-document helpers. Rules import this package
as ``mdl`` and use the names re-exported here.
"""

from cfgen.lint.model.findings import Findings, res_path, written_path
from cfgen.lint.model.iam import action_allows, service_principal, statements
from cfgen.lint.model.instances import (
    architecture,
    ce_architectures,
    is_a1,
    known_families,
    known_instance_types,
)
from cfgen.lint.model.retry import is_catch_all_exit, retries_spot_reclaim, rule_matches
from cfgen.lint.model.template import (
    BATCH_CE,
    BATCH_JD,
    BATCH_JQ,
    EC2_TYPES,
    FARGATE_SPOT_STATUS_REASON,
    FARGATE_TYPES,
    SPOT_RECLAIM_STATUS_REASON,
    SPOT_STRATEGIES,
    Model,
    Path,
    Scenario,
    Variant,
    compatible,
    model,
)
from cfgen.lint.model.values import UNKNOWN, as_list, get_att, is_unknown, scalar

__all__ = [
    "BATCH_CE",
    "BATCH_JD",
    "BATCH_JQ",
    "EC2_TYPES",
    "FARGATE_SPOT_STATUS_REASON",
    "FARGATE_TYPES",
    "SPOT_RECLAIM_STATUS_REASON",
    "SPOT_STRATEGIES",
    "UNKNOWN",
    "Findings",
    "Model",
    "Path",
    "Scenario",
    "Variant",
    "action_allows",
    "architecture",
    "as_list",
    "ce_architectures",
    "compatible",
    "get_att",
    "is_a1",
    "is_catch_all_exit",
    "is_unknown",
    "known_families",
    "known_instance_types",
    "model",
    "res_path",
    "retries_spot_reclaim",
    "rule_matches",
    "scalar",
    "service_principal",
    "statements",
    "written_path",
]
