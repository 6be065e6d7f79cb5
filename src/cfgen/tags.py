"""Tags, built per call.

troposphere's ``Tags.__add__`` mutates its left operand, so a module-level Tags
constant would silently grow; every function here returns a fresh object.
"""

from __future__ import annotations

from troposphere import Sub, Tags

from cfgen.config import Profile

#: Cost-allocation tag naming the stack; the budget filters on it.
STACK_TAG = "cfgen-stack"


def _values(profile: Profile, component: str) -> dict[str, object]:
    # No profile tag: the template's Description names the profile, and every
    # tag repeated on every resource counts against --template-body's 51,200 bytes.
    values: dict[str, object] = dict(profile.tags)
    values["cfgen:component"] = component
    values[STACK_TAG] = Sub("${AWS::StackName}")
    return values


def stack_tags(profile: Profile, *, component: str) -> Tags:
    """Tags for taggable resources that accept a list of {Key, Value}."""
    return Tags(**_values(profile, component))


def map_tags(profile: Profile, *, component: str) -> dict[str, object]:
    """Tags for Batch resources, which take a JSON map instead of a list.

    Compute-resource tags replace the compute environment when they change, so
    these contain only build-time values and the stack name (fixed for a stack).
    """
    return _values(profile, component)
