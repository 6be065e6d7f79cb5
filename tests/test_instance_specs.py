"""The bundled instance-type table (cfgen.ec2.instance_specs) and its refresh script."""

from __future__ import annotations

import pytest

from cfgen import ec2
from cfgen.config import list_profiles, load_profile


def test_table_names_its_source_and_date() -> None:
    source, as_of = ec2.spec_table_source()
    assert "DescribeInstanceTypes" in source
    assert len(as_of) == 10 and as_of[4] == "-"


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_instance_type_is_in_the_table(name: str) -> None:
    profile = load_profile(name)
    for it in profile.compute.instance_types:
        spec = ec2.instance_spec(it)
        if ec2.architecture(it) is not None and "." in it:
            assert spec is not None, it
            # The name-based architecture and the table agree (one knowledge, two sources).
            assert spec.architecture is ec2.architecture(it), it
            assert (spec.gpus > 0) is ec2.is_gpu(it), it


def test_known_specs_and_the_memory_model() -> None:
    g4 = ec2.instance_spec("g4dn.xlarge")
    assert g4 is not None and (g4.vcpus, g4.memory_mib, g4.gpus) == (4, 16384, 1)
    # Batch guide: m4.large, 8 GiB nominal, registers 7985 MiB; minus 32 MiB reserve.
    assert ec2.job_memory_mib(8192) == 7985 - 32 + 2  # floor(8192 * 0.975) = 7987
    assert ec2.job_memory_mib(8192) < 8192 - ec2.ECS_RESERVED_MEMORY_MIB
    # The gpu profile's job (14000 MiB) fits a g4dn.xlarge after the reserve.
    assert g4.job_memory_mib >= load_profile("gpu").job.memory_mib


def test_expand_families_and_undecidable_entries() -> None:
    sizes = ec2.expand(["c6i"])
    assert sizes is not None and {s.name for s in sizes} >= {"c6i.large", "c6i.32xlarge"}
    assert ec2.expand(["optimal"]) is None
    assert ec2.expand(["c6i.large", "nope9.huge"]) is None
