"""Tags, built per call.

troposphere's ``Tags.__add__`` mutates its left operand, so a module-level Tags
constant would silently grow; every function here returns a fresh object.
"""

from __future__ import annotations

from troposphere import Sub, Tags

from cfgen.config import Profile


def stack_tags(profile: Profile, *, component: str) -> Tags:
    """Tags for taggable resources that accept a list of {Key, Value}."""
    values: dict[str, object] = dict(profile.tags)
    values["cfgen:profile"] = profile.name
    values["cfgen:component"] = component
    values["cfgen:stack"] = Sub("${AWS::StackName}")
    return Tags(**values)


def map_tags(profile: Profile, *, component: str) -> dict[str, object]:
    """Tags for Batch resources, which take a JSON map instead of a list.

    Compute-resource tags replace the compute environment when they change, so
    these contain only build-time values and the stack name (fixed for a stack).
    """
    values: dict[str, object] = dict(profile.tags)
    values["cfgen:profile"] = profile.name
    values["cfgen:component"] = component
    values["cfgen:stack"] = Sub("${AWS::StackName}")
    return values
