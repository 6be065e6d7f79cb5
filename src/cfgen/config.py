"""Profiles: typed, validated once at the edge, frozen afterwards.

A profile is ``templates/defaults.toml`` deep-merged with ``templates/<name>.toml``
(or any TOML file given by path). Every key is checked: unknown keys, wrong types
and out-of-range values raise :class:`ConfigError` with a one-line message that
names the field, the value and the rule. After :func:`load_profile` returns, the
rest of cfgen trusts the :class:`Profile`.
"""

from __future__ import annotations

import importlib.util
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from cfgen import ec2
from cfgen.clikit import UsageError
from cfgen.ec2 import Architecture

_T = TypeVar("_T")

DEFAULTS_NAME = "defaults"
DEFAULT_PROFILE = "default"


class ConfigError(UsageError, ValueError):
    """A profile or CLI value is invalid. ``str(err)`` is one line for the user.

    A :class:`cfgen.clikit.UsageError`, so every command reports it as one line
    and exit 2 without wrapping it.
    """


class Platform(StrEnum):
    """Where jobs run."""

    EC2 = "EC2"  #: instances managed by Batch (Spot, On-Demand fallback)
    FARGATE = "FARGATE"  #: serverless containers (Fargate Spot, Fargate fallback)


class ImageType(StrEnum):
    """ECS-optimized AMI family; Amazon Linux 2 variants are past end of support."""

    ECS_AL2023 = "ECS_AL2023"  #: CPU instances, x86_64 or arm64
    ECS_AL2023_NVIDIA = "ECS_AL2023_NVIDIA"  #: GPU instances


class NetworkMode(StrEnum):
    """How jobs in SubnetIds reach ECR, ECS, S3 and CloudWatch Logs."""

    PUBLIC = "public"  #: public subnets (Fargate jobs get a public IP); the default
    NAT = "nat"  #: private subnets whose route tables have a NAT gateway route
    #: private subnets without internet route: the stack adds VPC endpoints
    ENDPOINTS = "endpoints"


class SpotAllocationStrategy(StrEnum):
    """Spot strategies that need no Spot fleet role."""

    SPOT_PRICE_CAPACITY_OPTIMIZED = "SPOT_PRICE_CAPACITY_OPTIMIZED"  #: default: deep, cheap pools
    SPOT_CAPACITY_OPTIMIZED = "SPOT_CAPACITY_OPTIMIZED"  #: deepest pools, price second


@dataclass(frozen=True)
class Compute:
    platform: Platform
    architecture: Architecture
    image_type: ImageType
    allocation_strategy: SpotAllocationStrategy
    instance_types: tuple[str, ...]
    min_vcpus: int
    max_vcpus: int
    on_demand_fallback: bool
    on_demand_max_vcpus: int
    bid_percentage: int
    root_volume_gib: int
    gpu: bool
    assign_public_ip: bool
    network_mode: NetworkMode


@dataclass(frozen=True)
class Job:
    vcpus: float
    memory_mib: int
    gpus: int
    attempts: int
    timeout_seconds: int
    runnable_timeout_seconds: int
    stop_timeout_seconds: int


@dataclass(frozen=True)
class Storage:
    log_retention_days: int
    checkpoint_expiration_days: int
    noncurrent_version_expiration_days: int


@dataclass(frozen=True)
class Monitoring:
    retry_alarm: bool
    retry_alarm_percent: int
    #: Render the CloudWatch dashboard (cfgen.dashboard; docs/dashboard.md).
    dashboard: bool


@dataclass(frozen=True)
class Cost:
    """Inputs of ``cfgen cost`` only: nothing here reaches the template."""

    #: GB a month between the jobs and S3/ECR (NAT against VPC endpoints);
    #: 0: no data-transfer estimate unless ``--data-gb-per-month`` asks for one.
    data_gb_per_month: float = 0.0


class ComputeKey(StrEnum):
    """A compute environment a queue may list (scheduling.queues[].compute)."""

    SPOT = "spot"  #: EC2 Spot (SpotComputeEnvironment)
    ON_DEMAND = "on-demand"  #: EC2 On-Demand fallback (OnDemandComputeEnvironment)
    FARGATE_SPOT = "fargate-spot"  #: FargateSpotComputeEnvironment
    FARGATE = "fargate"  #: FargateComputeEnvironment (On-Demand Fargate)


@dataclass(frozen=True)
class FairShare:
    """An AWS::Batch::SchedulingPolicy: weight per share identifier (or prefix*)."""

    shares: tuple[tuple[str, float], ...]
    share_decay_seconds: int
    compute_reservation: int


@dataclass(frozen=True)
class QueueSpec:
    name: str
    priority: int
    compute: tuple[ComputeKey, ...]
    #: None: the RunnableTimeoutSeconds parameter.
    runnable_timeout_seconds: int | None
    fair_share: FairShare | None


@dataclass(frozen=True)
class Scheduling:
    #: Empty: one queue (JobQueue) over every compute environment.
    queues: tuple[QueueSpec, ...]
    escalate_to_on_demand: bool
    job_scheduling_priority: int
    escalate_after_attempts: int = 3

    @property
    def fair_share(self) -> bool:
        return any(q.fair_share is not None for q in self.queues)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    source: str
    compute: Compute
    job: Job
    storage: Storage
    monitoring: Monitoring
    tags: Mapping[str, str]
    scheduling: Scheduling = Scheduling((), False, 0, 3)
    cost: Cost = Cost()

    @property
    def output_file(self) -> str:
        """File name under build/: the default profile is cloudformation.yaml."""
        return "cloudformation.yaml" if self.name == DEFAULT_PROFILE else f"{self.name}.yaml"


# --------------------------------------------------------------------------- loading

_PROFILE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def templates_dir() -> Path:
    """The folder holding defaults.toml and the profiles (``templates/``).

    It is the package ``cfgen.templates`` (mapped to the repository's
    templates/ folder), found without importing importlib.resources, which
    costs more than the lookup itself.
    """
    spec = importlib.util.find_spec("cfgen.templates")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise ConfigError("templates: the cfgen.templates package is missing (broken install)")
    return Path(next(iter(spec.submodule_search_locations)))


def list_profiles() -> list[str]:
    """Names of the profiles in ``templates/``, sorted, ``default`` first."""
    names = sorted(p.stem for p in templates_dir().glob("*.toml") if p.stem != DEFAULTS_NAME)
    return sorted(names, key=lambda n: (n != DEFAULT_PROFILE, n))


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    """Load, merge over the defaults and validate a profile by name or path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        path = Path(name_or_path)
        name = path.stem
    else:
        if not _PROFILE_NAME.match(name_or_path) or name_or_path == DEFAULTS_NAME:
            raise ConfigError(
                f"profile={name_or_path!r}: must be one of {', '.join(list_profiles())}"
                " or a path to a .toml file"
            )
        path = templates_dir() / f"{name_or_path}.toml"
        name = name_or_path
        if not path.is_file():
            raise ConfigError(
                f"profile={name_or_path!r}: no such profile; "
                f"must be one of {', '.join(list_profiles())} or a path to a .toml file"
            )
    source = f"templates/{name}.toml" if path.parent == templates_dir() else str(path)
    return profile_from_dict(_read_toml(path), name=name, source=source)


def profile_from_dict(
    overrides: Mapping[str, Any], *, name: str = "custom", source: str = "<dict>"
) -> Profile:
    """A validated Profile from a mapping shaped like a profile's TOML file.

    ``overrides`` lists only what differs from ``templates/defaults.toml``, as a
    profile file does; ``name`` names the profile (and its output file),
    ``source`` is what the rendered template's header names as its origin.
    Every way of making a profile goes through here: the same rules apply.
    """
    _validate_name(name)
    defaults = _read_toml(templates_dir() / f"{DEFAULTS_NAME}.toml")
    merged = _merge(defaults, overrides, "")
    profile = _build_profile(name, source, merged)
    _validate_platform_overrides(profile, overrides)
    _validate_network_mode(profile, overrides)
    return profile


#: Names whose output file would be another's: the default profile renders
#: build/cloudformation.yaml, the budget stack build/budget.yaml (cfgen.budget).
#: ("defaults" is the defaults file itself.)
RESERVED_NAMES = frozenset({"cloudformation", "budget", DEFAULTS_NAME})


def _validate_name(name: str) -> None:
    if not isinstance(name, str) or not _PROFILE_NAME.match(name):
        raise ConfigError(
            f"profile={name!r}: file name must match {_PROFILE_NAME.pattern}"
            " (lower-case letters, digits, dashes)"
        )
    if name in RESERVED_NAMES:
        raise ConfigError(
            f"profile={name!r}: reserved (its output file would collide with"
            " build/cloudformation.yaml of the default profile, build/budget.yaml of the budget"
            " stack or templates/defaults.toml); rename it"
        )


def _read_toml(path: Path) -> dict[str, Any]:
    shown = f"profile={str(path)!r}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{shown}: is a directory, not a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{shown}: permission denied") from None
    except OSError as err:
        raise ConfigError(f"{shown}: cannot read: {err.strerror}") from None
    try:
        # A UTF-8 byte order mark (some Windows editors write one) is not TOML:
        # accept it rather than report "invalid statement" at line 1.
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: must be UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{shown}: malformed TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{shown}: malformed TOML: nested too deeply") from None


def _merge(base: dict[str, Any], over: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        field = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(
                f"{field}={value!r}: unknown key; allowed here: {', '.join(sorted(base))}"
            )
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{field}={value!r}: must be a table [{field}]")
            # [tags] is an open map: profiles may add tags, not only override.
            if key == "tags":
                out[key] = {**base[key], **value}
            else:
                out[key] = _merge(base[key], value, f"{field}.")
        else:
            out[key] = value
    return out


_NON_SPOT_STRATEGIES = {
    "BEST_FIT": "Spot with BEST_FIT needs a Spot fleet role and cannot be updated in place",
    "BEST_FIT_PROGRESSIVE": "an On-Demand strategy; the Spot compute environment needs a Spot one",
}


def _build_profile(name: str, source: str, data: Mapping[str, Any]) -> Profile:
    strategy = data["compute"]["allocation_strategy"]
    if strategy in _NON_SPOT_STRATEGIES:
        raise ConfigError(
            f"compute.allocation_strategy={strategy!r}: {_NON_SPOT_STRATEGIES[strategy]};"
            " use SPOT_PRICE_CAPACITY_OPTIMIZED or SPOT_CAPACITY_OPTIMIZED"
        )
    compute = _build_section(Compute, "compute", data["compute"])
    job = _build_section(Job, "job", data["job"])
    storage = _build_section(Storage, "storage", data["storage"])
    monitoring = _build_section(Monitoring, "monitoring", data["monitoring"])
    cost = _build_section(Cost, "cost", data["cost"])
    tags = _build_tags(data["tags"])
    scheduling = build_scheduling(data["scheduling"])
    description = _validate_description(data["description"])
    profile = Profile(
        name=name,
        description=description,
        source=source,
        compute=compute,
        job=job,
        storage=storage,
        monitoring=monitoring,
        tags=MappingProxyType(tags),
        scheduling=scheduling,
        cost=cost,
    )
    validate(profile)
    return profile


def _build_section(cls: type[_T], section: str, data: Mapping[str, Any]) -> _T:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        values[f.name] = _coerce(f"{section}.{f.name}", data[f.name], hints[f.name])
    return cls(**values)


def _coerce(field: str, value: Any, hint: Any) -> Any:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ConfigError(f"{field}={value!r}: must be one of {', '.join(allowed)}")
        return hint(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{field}={value!r}: must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{field}={value!r}: must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{field}={value!r}: must be a number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{field}={value!r}: must be a string")
        return value
    if get_origin(hint) is tuple and get_args(hint)[0] is str:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{field}={value!r}: must be a list of strings")
        return tuple(value)
    raise TypeError(f"unsupported field type {hint!r} for {field}")  # pragma: no cover


# AWS tag rules (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html,
# "Tag naming limits and requirements"): at most 50 user tags per resource; keys
# 1-128 and values up to 256 characters of letters, digits, spaces and _ . : / = + - @;
# the aws: prefix is reserved. ``\w`` is Unicode letters, digits and "_".
_TAG_KEY = re.compile(r"^[\w.:/=+@ -]{1,128}$")
# Values 1-256 here: some resource schemas (cfn-lint E3033) need at least one.
_TAG_VALUE = re.compile(r"^[\w.:/=+@ -]{1,256}$")
#: Tags cfgen adds to every resource itself (cfgen.tags); they count toward the 50.
CFGEN_TAG_KEYS = ("cfgen:profile", "cfgen:component", "cfgen-stack")
MAX_TAGS = 50 - len(CFGEN_TAG_KEYS)


def _build_tags(data: Mapping[str, Any]) -> dict[str, str]:
    if len(data) > MAX_TAGS:
        raise ConfigError(
            f"tags: {len(data)} tags: at most {MAX_TAGS} (AWS allows 50 per resource and"
            f" cfgen adds {len(CFGEN_TAG_KEYS)}: {', '.join(CFGEN_TAG_KEYS)})"
        )
    for key, value in data.items():
        if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
            raise ConfigError(
                f"tags.{key}={value!r}: tag key must be 1-128 letters, digits, spaces or"
                " _.:/=+-@ and must not start with aws:"
            )
        if key in CFGEN_TAG_KEYS or key.startswith("cfgen:"):
            raise ConfigError(f"tags.{key}={value!r}: tag key reserved for cfgen's own tags")
        if not isinstance(value, str) or not _TAG_VALUE.match(value):
            raise ConfigError(
                f"tags.{key}={value!r}: tag value must be a string of 1-256 letters,"
                " digits, spaces or _.:/=+-@"
            )
    return dict(sorted(data.items()))


def _validate_description(description: Any) -> str:
    # One line without "|": it is the template's Description, a `cfgen list`
    # line and a cell of the README's profile table.
    if not isinstance(description, str) or not 1 <= len(description) <= 200:
        raise ConfigError(f"description={description!r}: must be a string of 1-200 characters")
    if description != description.strip() or any(c in description for c in "|\n\r\t"):
        raise ConfigError(
            f"description={description!r}: must be one line without '|', tabs or surrounding spaces"
        )
    if not description.isprintable():
        raise ConfigError(f"description={description!r}: must be printable text")
    return description


# --------------------------------------------------------------------------- validation
# Small functions, one rule each, in the spirit of the CDK's validateSpotConfig.

LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip


#: Allowed range of each whole-number field. The same bounds become the
#: MinValue/MaxValue of the CloudFormation parameter a field is the default of.
RANGES: dict[str, tuple[int, int]] = {
    "compute.max_vcpus": (1, 100_000),
    "compute.min_vcpus": (0, 100_000),
    "compute.on_demand_max_vcpus": (0, 100_000),
    "compute.bid_percentage": (1, 100),
    "compute.root_volume_gib": (30, 16_384),
    "job.attempts": (1, 10),
    "job.timeout_seconds": (60, 14 * 24 * 3600),
    "job.runnable_timeout_seconds": (600, 86_400),
    "job.stop_timeout_seconds": (30, 120),
    "job.memory_mib": (512, 2_000_000),
    "job.gpus": (0, 16),
    "storage.checkpoint_expiration_days": (1, 3650),
    "storage.noncurrent_version_expiration_days": (1, 3650),
    "monitoring.retry_alarm_percent": (1, 100),
}


def validate(profile: Profile) -> None:
    """Raise ConfigError for the first rule the profile breaks."""
    c, j, s = profile.compute, profile.job, profile.storage
    _validate_range("compute.max_vcpus", c.max_vcpus)
    _validate_range("compute.min_vcpus", c.min_vcpus)
    if c.min_vcpus > c.max_vcpus:
        raise ConfigError(
            f"compute.min_vcpus={c.min_vcpus!r}: must not exceed compute.max_vcpus ({c.max_vcpus})"
        )
    _validate_range("compute.on_demand_max_vcpus", c.on_demand_max_vcpus)
    _validate_range("compute.bid_percentage", c.bid_percentage)
    _validate_range("compute.root_volume_gib", c.root_volume_gib)
    _validate_range("job.attempts", j.attempts)
    _validate_range("job.timeout_seconds", j.timeout_seconds)
    _validate_range("job.runnable_timeout_seconds", j.runnable_timeout_seconds)
    _validate_range("job.stop_timeout_seconds", j.stop_timeout_seconds)
    _validate_range("job.memory_mib", j.memory_mib)
    _validate_range("job.gpus", j.gpus)
    if not 0.25 <= j.vcpus <= 192:
        raise ConfigError(f"job.vcpus={j.vcpus!r}: must be between 0.25 and 192")
    if s.log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"storage.log_retention_days={s.log_retention_days!r}: must be one of"
            f" {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    _validate_range("storage.checkpoint_expiration_days", s.checkpoint_expiration_days)
    _validate_range(
        "storage.noncurrent_version_expiration_days", s.noncurrent_version_expiration_days
    )
    _validate_range("monitoring.retry_alarm_percent", profile.monitoring.retry_alarm_percent)
    data_gb_rule = data_gb_per_month_rule(profile.cost.data_gb_per_month)
    if data_gb_rule:
        raise ConfigError(
            f"cost.data_gb_per_month={profile.cost.data_gb_per_month!r}: {data_gb_rule}"
        )
    if c.platform is Platform.FARGATE:
        _validate_fargate_size(j.vcpus, j.memory_mib)
    if c.platform is Platform.EC2:
        _validate_instance_types(c)
        _validate_gpu(profile)
    if c.platform is Platform.EC2 and j.vcpus != int(j.vcpus):
        raise ConfigError(f"job.vcpus={j.vcpus!r}: must be a whole number on EC2")
    validate_scheduling(profile)


#: Fields that mean nothing on Fargate: a profile setting one is an error.
EC2_ONLY_FIELDS = (
    "compute.min_vcpus",
    "compute.architecture",
    "compute.image_type",
    "compute.allocation_strategy",
    "compute.instance_types",
    "compute.bid_percentage",
    "compute.root_volume_gib",
    "compute.gpu",
    "job.gpus",
    "job.stop_timeout_seconds",
)

#: Fargate task sizes: vCPUs -> allowed memory (MiB).
#: https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
FARGATE_MEMORY: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1: tuple(range(2048, 8192 + 1, 1024)),
    2: tuple(range(4096, 16384 + 1, 1024)),
    4: tuple(range(8192, 30720 + 1, 1024)),
    8: tuple(range(16384, 61440 + 1, 4096)),
    16: tuple(range(32768, 122880 + 1, 8192)),
}


def data_gb_per_month_rule(value: float) -> str:
    """The rule a monthly data volume breaks ("" when none): the profile key
    ``cost.data_gb_per_month`` and ``cfgen cost --data-gb-per-month`` share it."""
    if not math.isfinite(value):
        return "must be a finite number of GB"
    if value < 0:
        return "must be 0 or more"
    return ""


def _validate_platform_overrides(profile: Profile, overrides: Mapping[str, Any]) -> None:
    if profile.compute.platform is not Platform.FARGATE:
        return
    for field in EC2_ONLY_FIELDS:
        section, key = field.split(".")
        value = overrides.get(section, {}).get(key)
        if value is not None:
            raise ConfigError(f"{field}={value!r}: EC2-only; a FARGATE profile must not set it")


def _validate_network_mode(profile: Profile, overrides: Mapping[str, Any]) -> None:
    """A public IP means nothing in private subnets: refuse one asked for there."""
    mode = profile.compute.network_mode
    if mode is not NetworkMode.PUBLIC and overrides.get("compute", {}).get("assign_public_ip"):
        raise ConfigError(
            f"compute.assign_public_ip=True: only with compute.network_mode = 'public';"
            f" in {mode.value!r} mode the subnets are private and jobs get no public IP"
        )


def _validate_fargate_size(vcpus: float, memory_mib: int) -> None:
    if vcpus not in FARGATE_MEMORY:
        allowed = ", ".join(f"{v:g}" for v in FARGATE_MEMORY)
        raise ConfigError(f"job.vcpus={vcpus!r}: on FARGATE must be one of {allowed}")
    if memory_mib not in FARGATE_MEMORY[vcpus]:
        options = FARGATE_MEMORY[vcpus]
        raise ConfigError(
            f"job.memory_mib={memory_mib!r}: with {vcpus:g} Fargate vCPUs must be one of"
            f" {options[0]}..{options[-1]} in steps of {options[1] - options[0]}"
        )


def _validate_range(field: str, value: int) -> None:
    lo, hi = RANGES[field]
    if not lo <= value <= hi:
        raise ConfigError(f"{field}={value!r}: must be between {lo} and {hi}")


def _validate_instance_types(c: Compute) -> None:
    if not c.instance_types:
        raise ConfigError("compute.instance_types=[]: must list at least one instance type")
    if len(set(c.instance_types)) != len(c.instance_types):
        raise ConfigError(f"compute.instance_types={list(c.instance_types)!r}: duplicates")
    for it in c.instance_types:
        if not ec2.INSTANCE_TYPE_RE.match(it):
            raise ConfigError(
                f"compute.instance_types={it!r}: not an instance type or family"
                " (e.g. c6i.large or c6i)"
            )
        arch = instance_architecture(it)
        if arch is not c.architecture:
            raise ConfigError(
                f"compute.instance_types={it!r}: is {arch.value}, but compute.architecture is"
                f" {c.architecture.value}; never mix architectures in a compute environment"
            )
        if ec2.is_a1(it):
            raise ConfigError(
                f"compute.instance_types={it!r}: A1 instances are not supported by ECS_AL2023"
            )


def _validate_gpu(profile: Profile) -> None:
    c, j = profile.compute, profile.job
    gpu_types = [it for it in c.instance_types if ec2.is_gpu(it)]
    if c.gpu:
        if c.image_type is not ImageType.ECS_AL2023_NVIDIA:
            raise ConfigError(
                f"compute.image_type={c.image_type.value!r}: GPU profiles need ECS_AL2023_NVIDIA"
            )
        if len(gpu_types) != len(c.instance_types):
            bad = next(it for it in c.instance_types if it not in gpu_types)
            raise ConfigError(
                f"compute.instance_types={bad!r}: a GPU profile must list only GPU instance"
                f" types ({', '.join(ec2.GPU_FAMILIES)})"
            )
        if j.gpus < 1:
            raise ConfigError(f"job.gpus={j.gpus!r}: a GPU profile needs at least 1 GPU per job")
    else:
        if c.image_type is ImageType.ECS_AL2023_NVIDIA:
            raise ConfigError(
                "compute.image_type='ECS_AL2023_NVIDIA': only with compute.gpu = true"
            )
        if j.gpus:
            raise ConfigError(f"job.gpus={j.gpus!r}: GPUs per job need compute.gpu = true")


def instance_architecture(instance_type: str) -> Architecture:
    """Architecture of an instance type or family by its name (see cfgen.ec2)."""
    return ec2.architecture(instance_type) or Architecture.X86_64


# --------------------------------------------------------------------------- scheduling
# Queues, fair share and escalation ([scheduling] in defaults.toml).
# Limits from the AWS Batch guide and API reference:
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ShareAttributes.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_FairsharePolicy.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDefinition.html

_QUEUE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
#: "limited to 255 alphanumeric characters, and can be followed by an asterisk".
SHARE_IDENTIFIER = re.compile(r"^[A-Za-z0-9]{1,255}\*?$")
#: A job queue has at most 500 active share identifiers.
MAX_SHARES = 500
#: weightFactor: "The smallest supported value is 0.0001, and the largest 999.9999".
WEIGHT_RANGE = (0.0001, 999.9999)
SCHEDULING_RANGES: dict[str, tuple[int, int]] = {
    "priority": (1, 1000),
    "runnable_timeout_seconds": (600, 86_400),
    #: shareDecaySeconds: "The maximum supported value is 604800 (1 week)".
    "share_decay_seconds": (0, 604_800),
    #: computeReservation: "The minimum value is 0 and the maximum value is 99".
    "compute_reservation": (0, 99),
    #: SchedulingPriority of a job definition / SubmitJob override.
    "job_scheduling_priority": (0, 9999),
    #: RetryStrategy attempts of the Spot submission (Batch: 1-10).
    "escalate_after_attempts": (1, 10),
}
_QUEUE_KEYS = (
    "name",
    "priority",
    "compute",
    "runnable_timeout_seconds",
    "shares",
    "share_decay_seconds",
    "compute_reservation",
)


def build_scheduling(data: Mapping[str, Any]) -> Scheduling:
    """Parse [scheduling]: types and per-field ranges (cross-field rules in validate)."""
    queues_data = data["queues"]
    if not isinstance(queues_data, list) or not all(isinstance(q, dict) for q in queues_data):
        raise ConfigError(
            f"scheduling.queues={queues_data!r}: must be a list of tables [[scheduling.queues]]"
        )
    queues = tuple(_build_queue(i, q) for i, q in enumerate(queues_data))
    escalate = data["escalate_to_on_demand"]
    if not isinstance(escalate, bool):
        raise ConfigError(f"scheduling.escalate_to_on_demand={escalate!r}: must be true or false")
    priority = _scheduling_int(
        "scheduling.job_scheduling_priority", data["job_scheduling_priority"]
    )
    _scheduling_range("scheduling.job_scheduling_priority", "job_scheduling_priority", priority)
    after = _scheduling_int("scheduling.escalate_after_attempts", data["escalate_after_attempts"])
    _scheduling_range("scheduling.escalate_after_attempts", "escalate_after_attempts", after)
    return Scheduling(queues, escalate, priority, after)


def _scheduling_int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}={value!r}: must be an integer")
    return value


def _scheduling_range(field: str, key: str, value: int) -> None:
    lo, hi = SCHEDULING_RANGES[key]
    if not lo <= value <= hi:
        raise ConfigError(f"{field}={value!r}: must be between {lo} and {hi}")


def _build_queue(index: int, data: Mapping[str, Any]) -> QueueSpec:
    at = f"scheduling.queues[{index}]"
    for key in data:
        if key not in _QUEUE_KEYS:
            raise ConfigError(
                f"{at}.{key}={data[key]!r}: unknown key; allowed here: {', '.join(_QUEUE_KEYS)}"
            )
    for key in ("name", "priority", "compute"):
        if key not in data:
            raise ConfigError(f"{at}.{key}: missing; a queue needs name, priority and compute")
    name = data["name"]
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise ConfigError(
            f"{at}.name={name!r}: must match {_QUEUE_NAME.pattern}"
            " (lower-case letters, digits, dashes)"
        )
    priority = _scheduling_int(f"{at}.priority", data["priority"])
    _scheduling_range(f"{at}.priority", "priority", priority)
    compute = data["compute"]
    allowed = [k.value for k in ComputeKey]
    if (
        not isinstance(compute, list)
        or not compute
        or not all(isinstance(c, str) and c in allowed for c in compute)
    ):
        raise ConfigError(
            f"{at}.compute={compute!r}: must list 1-3 of {', '.join(allowed)}, in order"
        )
    if len(set(compute)) != len(compute):
        raise ConfigError(f"{at}.compute={compute!r}: lists a compute environment twice")
    timeout: int | None = None
    if "runnable_timeout_seconds" in data:
        timeout = _scheduling_int(
            f"{at}.runnable_timeout_seconds", data["runnable_timeout_seconds"]
        )
        _scheduling_range(f"{at}.runnable_timeout_seconds", "runnable_timeout_seconds", timeout)
    fair_share = None
    if any(k in data for k in ("shares", "share_decay_seconds", "compute_reservation")):
        fair_share = _build_fair_share(at, data)
    return QueueSpec(name, priority, tuple(ComputeKey(c) for c in compute), timeout, fair_share)


def _build_fair_share(at: str, data: Mapping[str, Any]) -> FairShare:
    shares = data.get("shares")
    if not isinstance(shares, dict) or not shares:
        raise ConfigError(
            f"{at}.shares={shares!r}: a fair-share queue needs a table of share identifier"
            " = weight factor"
        )
    if len(shares) > MAX_SHARES:
        raise ConfigError(
            f"{at}.shares: {len(shares)} share identifiers; a job queue has at most {MAX_SHARES}"
        )
    out: list[tuple[str, float]] = []
    for ident, weight in shares.items():
        validate_share_identifier(f"{at}.shares", ident)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ConfigError(f"{at}.shares.{ident}={weight!r}: weight factor must be a number")
        lo, hi = WEIGHT_RANGE
        if not lo <= weight <= hi:
            raise ConfigError(
                f"{at}.shares.{ident}={weight!r}: weight factor must be between {lo} and {hi}"
            )
        out.append((ident, float(weight)))
    _validate_no_overlap(f"{at}.shares", [i for i, _ in out])
    decay = _scheduling_int(f"{at}.share_decay_seconds", data.get("share_decay_seconds", 0))
    _scheduling_range(f"{at}.share_decay_seconds", "share_decay_seconds", decay)
    reserve = _scheduling_int(f"{at}.compute_reservation", data.get("compute_reservation", 0))
    _scheduling_range(f"{at}.compute_reservation", "compute_reservation", reserve)
    return FairShare(tuple(out), decay, reserve)


def validate_share_identifier(field: str, ident: object) -> None:
    """A share identifier: up to 255 letters and digits, optionally ending in '*'."""
    if not isinstance(ident, str) or not SHARE_IDENTIFIER.match(ident):
        raise ConfigError(
            f"{field}={ident!r}: a share identifier is 1-255 letters and digits,"
            " optionally followed by * (a prefix)"
        )


def _validate_no_overlap(field: str, idents: list[str]) -> None:
    """The guide: UserA* and UserA1 in one policy overlap, which Batch rejects."""
    for prefix in (i for i in idents if i.endswith("*")):
        for other in idents:
            if other != prefix and other.startswith(prefix[:-1]):
                raise ConfigError(
                    f"{field}={other!r}: overlaps the prefix {prefix!r};"
                    " share identifiers of one policy must not overlap"
                )


#: The compute environments each platform renders (and whether they are Spot).
PLATFORM_COMPUTE: dict[Platform, tuple[ComputeKey, ...]] = {
    Platform.EC2: (ComputeKey.SPOT, ComputeKey.ON_DEMAND),
    Platform.FARGATE: (ComputeKey.FARGATE_SPOT, ComputeKey.FARGATE),
}


def validate_scheduling(profile: Profile) -> None:
    """Cross-field rules of [scheduling] against [compute]."""
    sch, c = profile.scheduling, profile.compute
    rendered = PLATFORM_COMPUTE[c.platform][: 2 if c.on_demand_fallback else 1]
    names: set[str] = set()
    for i, q in enumerate(sch.queues):
        if q.name in names:
            raise ConfigError(f"scheduling.queues[{i}].name={q.name!r}: two queues share a name")
        names.add(q.name)
        for key in q.compute:
            if key not in rendered:
                raise ConfigError(
                    f"scheduling.queues[{i}].compute={key.value!r}: this profile renders only"
                    f" {', '.join(k.value for k in rendered)}"
                )
        if q.compute[0] not in (ComputeKey.SPOT, ComputeKey.FARGATE_SPOT):
            # The fallback exists only while OnDemandMaxvCpus > 0: a queue that
            # starts there would have no capacity (or no environment) at all.
            raise ConfigError(
                f"scheduling.queues[{i}].compute={[k.value for k in q.compute]!r}: must start"
                " on Spot; for On-Demand runs use scheduling.escalate_to_on_demand"
            )
    if sch.escalate_to_on_demand:
        if not c.on_demand_fallback:
            raise ConfigError(
                "scheduling.escalate_to_on_demand=True: needs compute.on_demand_fallback = true"
                " (the escalation queue runs on the On-Demand compute environment)"
            )
        if "escalation" in names:
            raise ConfigError(
                "scheduling.queues.name='escalation': reserved for the escalation queue"
            )
