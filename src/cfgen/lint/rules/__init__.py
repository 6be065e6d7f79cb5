"""cfgen's cfn-lint rules for AWS Batch on Spot.

Load them with ``cfn-lint --append-rules src/cfgen/lint/rules`` (a directory:
cfn-lint imports every ``*.py`` file in it) or ``--append-rules
cfgen.lint.rules`` (this module, when cfgen is installed).
"""

from cfgen.lint.rules.compute import (
    Al2023WithA1,
    BidPercentageCap,
    BidPercentageOnlySpot,
    DesiredvCpusSet,
    EndOfSupportImage,
    FargateForbiddenProperties,
    MixedArchitectureInCe,
    SecurityGroupRequired,
    SpotFleetRoleNeeded,
    SpotFleetRoleUnneeded,
    SpotStrategyNeedsSpot,
    VcpuOrdering,
)
from cfgen.lint.rules.endpoints import (
    EndpointGroupRejectsCompute,
    FargatePublicIpInPrivateSubnets,
    InterfaceEndpointWithoutPrivateDns,
)
from cfgen.lint.rules.events import (
    InputPathMissing,
    JobStatusField,
    KmsTopicForEvents,
    SnsTopicPolicyForAlarms,
    SnsTopicPolicyForEvents,
)
from cfgen.lint.rules.jobs import (
    DeprecatedVcpusMemory,
    FargateJobDefinition,
    JobRoleWithExecutionPermissions,
    MultinodeOnSpotOnly,
    RetryCatchAll,
    RetryStrategyLimits,
    SpotReclaimNotRetried,
    TimeoutTooShort,
    VcpusMemoryWithRequirements,
)
from cfgen.lint.rules.monitoring import (
    BatchMetric,
    BatchMetricMissingDataBreaching,
    CustomNameWithReplacement,
    CustomServiceRole,
    DefaultBatchLogGroup,
    Ec2SpotTerminationMetric,
    LaunchTemplateEncryption,
    LaunchTemplateImds,
)
from cfgen.lint.rules.queues import (
    DuplicateOrder,
    MixedArchitectureInQueue,
    MixedPlatformQueue,
    TooManyComputeEnvironments,
)

__all__ = [
    "Al2023WithA1",
    "BatchMetric",
    "BatchMetricMissingDataBreaching",
    "BidPercentageCap",
    "BidPercentageOnlySpot",
    "CustomNameWithReplacement",
    "CustomServiceRole",
    "DefaultBatchLogGroup",
    "DeprecatedVcpusMemory",
    "DesiredvCpusSet",
    "DuplicateOrder",
    "Ec2SpotTerminationMetric",
    "EndOfSupportImage",
    "EndpointGroupRejectsCompute",
    "FargateForbiddenProperties",
    "FargateJobDefinition",
    "FargatePublicIpInPrivateSubnets",
    "InputPathMissing",
    "InterfaceEndpointWithoutPrivateDns",
    "JobRoleWithExecutionPermissions",
    "JobStatusField",
    "KmsTopicForEvents",
    "LaunchTemplateEncryption",
    "LaunchTemplateImds",
    "MixedArchitectureInCe",
    "MixedArchitectureInQueue",
    "MixedPlatformQueue",
    "MultinodeOnSpotOnly",
    "RetryCatchAll",
    "RetryStrategyLimits",
    "SecurityGroupRequired",
    "SnsTopicPolicyForAlarms",
    "SnsTopicPolicyForEvents",
    "SpotFleetRoleNeeded",
    "SpotFleetRoleUnneeded",
    "SpotReclaimNotRetried",
    "SpotStrategyNeedsSpot",
    "TimeoutTooShort",
    "TooManyComputeEnvironments",
    "VcpuOrdering",
    "VcpusMemoryWithRequirements",
]
