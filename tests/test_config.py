"""Profile loading and validation: precise one-line messages for bad profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgen.config import (
    Architecture,
    ConfigError,
    ImageType,
    Platform,
    SpotAllocationStrategy,
    instance_architecture,
    list_profiles,
    load_profile,
)


def write(tmp_path: Path, text: str, name: str = "custom.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_default_profile_values() -> None:
    p = load_profile("default")
    assert p.name == "default"
    assert p.output_file == "cloudformation.yaml"
    assert p.compute.platform is Platform.EC2
    assert p.compute.architecture is Architecture.X86_64
    assert p.compute.image_type is ImageType.ECS_AL2023
    assert p.compute.allocation_strategy is SpotAllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
    assert p.compute.on_demand_fallback is True
    assert p.compute.bid_percentage == 100


def test_default_instance_types_are_diverse_current_generation_x86() -> None:
    types = load_profile("default").compute.instance_types
    assert len(types) >= 10
    families = {t.split(".")[0] for t in types}
    assert len(families) >= 3
    for t in types:
        generation = int("".join(ch for ch in t.split(".")[0] if ch.isdigit()))
        assert generation >= 6, t
        assert instance_architecture(t) is Architecture.X86_64


def test_list_profiles_default_first() -> None:
    names = list_profiles()
    assert names[0] == "default"
    assert "defaults" not in names


def test_profile_by_path_overrides_only_what_it_lists(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, "[compute]\nmax_vcpus = 64\n"))
    assert p.name == "custom"
    assert p.compute.max_vcpus == 64
    assert p.compute.instance_types == load_profile("default").compute.instance_types


def test_tags_can_be_added(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, '[tags]\ncost-centre = "data-42"\n'))
    assert dict(p.tags) == {"cost-centre": "data-42", "environment": "dev", "project": "cfgen"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[compute]\nmax_vcpu = 3\n", "compute.max_vcpu=3: unknown key"),
        ("colour = 'red'\n", "colour='red': unknown key"),
        ("[computer]\n", "computer={}: unknown key"),
        ("[compute]\nmax_vcpus = -1\n", "compute.max_vcpus=-1: must be between 1 and 100000"),
        ("[compute]\nmax_vcpus = '8'\n", "compute.max_vcpus='8': must be an integer"),
        ("[compute]\nbid_percentage = 0\n", "compute.bid_percentage=0: must be between 1 and 100"),
        ("[compute]\nbid_percentage = 101\n", "compute.bid_percentage=101: must be between 1"),
        (
            "[compute]\nplatform = 'BATCH'\n",
            "compute.platform='BATCH': must be one of EC2, FARGATE",
        ),
        (
            "[compute]\nallocation_strategy = 'BEST_FIT'\n",
            "compute.allocation_strategy='BEST_FIT': Spot with BEST_FIT needs a Spot fleet role",
        ),
        (
            "[compute]\nallocation_strategy = 'BEST_FIT_PROGRESSIVE'\n",
            "compute.allocation_strategy='BEST_FIT_PROGRESSIVE': an On-Demand strategy",
        ),
        (
            "[compute]\nallocation_strategy = 'CHEAPEST'\n",
            "compute.allocation_strategy='CHEAPEST': must be one of SPOT_PRICE_CAPACITY_OPTIMIZED",
        ),
        (
            "[compute]\nplatform = 'FARGATE'\ninstance_types = ['c6i.large']\n",
            "compute.instance_types=['c6i.large']: EC2-only; a FARGATE profile must not set it",
        ),
        (
            "[compute]\nplatform = 'FARGATE'\nallocation_strategy = 'SPOT_CAPACITY_OPTIMIZED'\n",
            "compute.allocation_strategy='SPOT_CAPACITY_OPTIMIZED': EC2-only",
        ),
        (
            "[compute]\nplatform = 'FARGATE'\n[job]\nvcpus = 3\n",
            "job.vcpus=3: on FARGATE must be one of 0.25, 0.5, 1, 2, 4, 8, 16",
        ),
        (
            "[compute]\nplatform = 'FARGATE'\n[job]\nvcpus = 1\nmemory_mib = 1024\n",
            "job.memory_mib=1024: with 1 Fargate vCPUs must be one of 2048..8192 in steps of 1024",
        ),
        (
            "[compute]\nmin_vcpus = 300\nmax_vcpus = 256\n",
            "compute.min_vcpus=300: must not exceed compute.max_vcpus (256)",
        ),
        (
            "[compute]\nmax_vcpus = 0\n",
            "compute.max_vcpus=0: must be between 1 and 100000",
        ),
        (
            "[monitoring]\nretry_alarm_percent = 0\n",
            "monitoring.retry_alarm_percent=0: must be between 1",
        ),
        ("[compute]\nimage_type = 'ECS_AL2'\n", "compute.image_type='ECS_AL2': must be one of"),
        ("[compute]\ninstance_types = []\n", "compute.instance_types=[]: must list at least one"),
        (
            "[compute]\ninstance_types = ['c6i.large', 'c7g.large']\n",
            "compute.instance_types='c7g.large': is arm64, but compute.architecture is x86_64",
        ),
        (
            "[compute]\narchitecture = 'arm64'\ninstance_types = ['a1.large']\n",
            "compute.instance_types='a1.large': A1 instances are not supported by ECS_AL2023",
        ),
        ("[compute]\ninstance_types = ['C6I.LARGE']\n", "compute.instance_types='C6I.LARGE'"),
        ("[compute]\ngpu = true\n", "compute.image_type='ECS_AL2023': GPU profiles need"),
        (
            "[compute]\ngpu = true\nimage_type = 'ECS_AL2023_NVIDIA'\n",
            "compute.instance_types='c6i.large': a GPU profile must list only GPU",
        ),
        ("[job]\ngpus = 1\n", "job.gpus=1: GPUs per job need compute.gpu = true"),
        ("[job]\nattempts = 11\n", "job.attempts=11: must be between 1 and 10"),
        ("[job]\ntimeout_seconds = 30\n", "job.timeout_seconds=30: must be between 60"),
        ("[job]\nvcpus = 0.5\n", "job.vcpus=0.5: must be a whole number on EC2"),
        ("[storage]\nlog_retention_days = 2\n", "storage.log_retention_days=2: must be one of"),
        ("[tags]\n'aws:x' = 'y'\n", "tags.aws:x='y': tag key"),
        ("description = ''\n", "description='': must be a string of 1-200 characters"),
        ("[compute]\non_demand_fallback = 'yes'\n", "compute.on_demand_fallback='yes': must be"),
        ("[compute]\nroot_volume_gib = 8\n", "compute.root_volume_gib=8: must be between 30"),
    ],
)
def test_invalid_profiles_name_field_value_and_rule(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_profile(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_profile(write(tmp_path, "[compute\n"))


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"profile='nope': no such profile; must be one of default"
    ):
        load_profile("nope")


def test_defaults_is_not_a_profile() -> None:
    with pytest.raises(ConfigError, match="profile='defaults'"):
        load_profile("defaults")


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_profile(str(tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("c6i.large", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("g6e.xlarge", "x86_64"),
        ("c7g.large", "arm64"),
        ("m6gd.xlarge", "arm64"),
        ("c7gn.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("r8g", "arm64"),
        ("a1.large", "arm64"),
    ],
)
def test_instance_architecture(instance_type: str, arch: str) -> None:
    assert instance_architecture(instance_type).value == arch


def test_a_key_with_a_control_character_is_still_a_one_line_error(tmp_path: Path) -> None:
    """Found by the property test: a TOML key "\\n" made the message two lines."""
    path = tmp_path / "nl.toml"
    path.write_text('[compute]\n"\\n" = false\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_profile(str(path))
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("compute.\\n=False: unknown key")
