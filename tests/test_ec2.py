"""cfgen.ec2: the one place EC2 knowledge lives; config, lint and cost agree with it."""

from __future__ import annotations

import pytest

from cfgen import ec2
from cfgen.config import instance_architecture
from cfgen.cost import prices
from cfgen.lint import model as mdl


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("c6i.large", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("p4de.24xlarge", "x86_64"),
        ("c6in", "x86_64"),
        ("c7g.large", "arm64"),
        ("m6gd.xlarge", "arm64"),
        ("c6gn", "arm64"),
        ("x2gd.large", "arm64"),
        ("im4gn.large", "arm64"),
        ("is4gen.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("hpc7g.4xlarge", "arm64"),
        ("a1.large", "arm64"),
        ("optimal", "x86_64"),
        ("default_arm64", "arm64"),
        ("mac2.metal", None),
        ("not-a-type", None),
    ],
)
def test_architecture_by_name(name: str, arch: str | None) -> None:
    got = ec2.architecture(name)
    assert (got.value if got else None) == arch


@pytest.mark.parametrize("name", ["c6i.large", "c7g.large", "a1.large", "g5g.xlarge", "g4dn"])
def test_config_lint_and_cost_agree(name: str) -> None:
    expected = ec2.architecture(name)
    assert expected is not None
    assert instance_architecture(name) is expected
    assert mdl.architecture(name) == expected.value
    assert prices.is_arm64(name) is (expected is ec2.Architecture.ARM64)


def test_gpu_families_and_a1() -> None:
    assert ec2.is_gpu("g4dn.xlarge") and ec2.is_gpu("p5") and ec2.is_gpu("g5g.xlarge")
    assert not ec2.is_gpu("m7g.large") and not ec2.is_gpu("gr6.4xlarge")
    assert prices.is_gpu("g6.xlarge") and not prices.is_gpu("c6i.large")
    assert ec2.is_a1("a1.medium") and not ec2.is_a1("c6i.large")


def test_image_platform() -> None:
    assert ec2.Architecture.ARM64.image_platform == "linux/arm64"
    assert ec2.Architecture.X86_64.image_platform == "linux/amd64"


def test_instance_type_pattern_is_the_parameter_pattern() -> None:
    from cfgen.config import load_profile
    from cfgen.render import to_data

    data = to_data(load_profile("default"))
    assert data["Parameters"]["InstanceTypes"]["AllowedPattern"] == ec2.INSTANCE_TYPE_PATTERN
