"""cfgen: generated CloudFormation templates for AWS Batch on EC2 Spot.

The library API (imported on first use, so ``import cfgen`` stays cheap)::

    from cfgen import load_profile, build_template, render_template

    profile = load_profile("default")            # a name in templates/ or a .toml path
    template = build_template(profile)           # a troposphere Template: add to it
    text = render_template(template)             # cfgen's ordering, header and dumper

``profile_from_dict`` makes a profile from a mapping shaped like a profile file;
``cfgen.render.render(profile)`` is ``render_template(build_template(profile))``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cfgen.config import ConfigError, Profile, load_profile, profile_from_dict
    from cfgen.render import render_template, template_data, to_data
    from cfgen.template import build_template

#: Public name -> module that defines it.
_API = {
    "ConfigError": "cfgen.config",
    "Profile": "cfgen.config",
    "load_profile": "cfgen.config",
    "profile_from_dict": "cfgen.config",
    "build_template": "cfgen.template",
    "render_template": "cfgen.render",
    "template_data": "cfgen.render",
    "to_data": "cfgen.render",
}

__all__ = [
    "ConfigError",
    "Profile",
    "__version__",
    "build_template",
    "load_profile",
    "profile_from_dict",
    "render_template",
    "template_data",
    "to_data",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'cfgen' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
