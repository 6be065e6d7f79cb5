"""Documentation generated from the rendered template: Markdown tables and a Mermaid diagram.

    cfgen docs [--profile P]                  Parameters and Outputs as Markdown tables
    cfgen docs --update-readme [README.md]    refresh the README's generated sections
    cfgen docs --check-readme [README.md]     exit 1 if they differ from a fresh render
    cfgen diagram [--profile P]               Mermaid flowchart of the resources

Everything is derived from the template as plain data (``cfgen.render.to_data``),
never from a hand-written list: a new parameter, output, resource or reference
shows up in the docs the next time they are generated. The README embeds the
default profile's tables and diagram between marker comments
(``<!-- BEGIN parameters -->`` ... ``<!-- END parameters -->``, likewise
``outputs`` and ``diagram``); tests/test_docs.py fails when they drift.

Output is deterministic: the same template gives byte-identical Markdown.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from cfgen.config import Profile

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

#: The command that regenerates the README's marked sections.
UPDATE_COMMAND = "python -m cfgen docs --update-readme"

#: README sections this module owns, in the order they are checked.
SECTIONS = ("parameters", "outputs", "diagram")

#: En dash (U+2013): ranges such as 1-100, and empty table cells (visibly empty).
DASH = "\u2013"
_NONE = DASH


class DocsError(ValueError):
    """Bad input to docs/diagram (missing README marker, unreadable file): one line."""


# --------------------------------------------------------------------------- Markdown escaping

# Characters that Markdown (GFM) would read as markup in a table cell. "|" ends
# the cell; "<" starts raw HTML (List<AWS::EC2::Subnet::Id> would vanish).
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")
# "_" is markup only at a word boundary (GFM ignores intraword underscores).
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def md_text(text: str) -> str:
    """Plain text for a table cell: one line, markup characters escaped."""
    text = _MD_SPECIAL.sub(r"\\\1", _one_line(text))
    return _MD_UNDERSCORE.sub(r"\\_", text)


def md_code(value: str) -> str:
    """A code span for a table cell. Backslash escapes do not work inside code
    spans, except ``\\|``, which GFM tables turn back into ``|``."""
    value = " ".join(value.splitlines())
    if value == "":
        return '`""`'
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`") or value.strip() == "":
        value = f" {value} "
    return fence + value.replace("|", "\\|") + fence


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- intrinsics as text


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def intrinsic_text(value: Any) -> str:
    """A short, YAML-like spelling of a value that may be an intrinsic function."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"!Ref {_scalar(arg)}"
        if key == "Fn::GetAtt":
            target = ".".join(_scalar(a) for a in arg) if isinstance(arg, list) else _scalar(arg)
            return f"!GetAtt {target}"
        if key == "Fn::Sub":
            return f"!Sub {arg[0] if isinstance(arg, list) else _scalar(arg)}"
        if key == "Fn::ImportValue":
            return f"!ImportValue {intrinsic_text(arg)}"
    return _scalar(value)


def _export_name(value: Any) -> str:
    """An export name: the Sub template itself, ``${AWS::StackName}-JobQueueArn``."""
    if isinstance(value, Mapping) and set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        return _scalar(arg[0] if isinstance(arg, list) else arg)
    return intrinsic_text(value)


def condition_text(expr: Any) -> str:
    """A condition's expression in words: ``OnDemandMaxvCpus ≠ 0``."""

    def operand(v: Any) -> str:
        if isinstance(v, Mapping) and set(v) == {"Ref"}:
            return _scalar(v["Ref"])
        if isinstance(v, str):
            return json.dumps(v) if v == "" or " " in v else v
        return intrinsic_text(v)

    def walk(e: Any, nested: bool) -> str:
        if isinstance(e, Mapping) and len(e) == 1:
            ((key, arg),) = e.items()
            if key == "Condition":
                return _scalar(arg)
            if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                return f"{operand(arg[0])} = {operand(arg[1])}"
            if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                inner = arg[0]
                pair = inner.get("Fn::Equals") if isinstance(inner, Mapping) else None
                if len(inner) == 1 and isinstance(pair, list) and len(pair) == 2:
                    return f"{operand(pair[0])} ≠ {operand(pair[1])}"
                return f"not {walk(inner, True)}"
            if key in ("Fn::And", "Fn::Or") and isinstance(arg, list):
                word = " and " if key == "Fn::And" else " or "
                text = word.join(walk(x, True) for x in arg)
                return f"({text})" if nested else text
        return intrinsic_text(e)

    return walk(expr, False)


# --------------------------------------------------------------------------- tables


def _parameter_order(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(group label, parameter name) in the console's order; ungrouped ones last."""
    params: Mapping[str, Any] = data.get("Parameters", {})
    interface = data.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    order: list[tuple[str, str]] = []
    seen: set[str] = set()
    for group in interface.get("ParameterGroups", []):
        label = _scalar(group.get("Label", {}).get("default", ""))
        for name in group.get("Parameters", []):
            if name in params and name not in seen:
                order.append((label, name))
                seen.add(name)
    rest = [name for name in params if name not in seen]
    order += [("Other" if order else "", name) for name in rest]
    return order


def _allowed(spec: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "AllowedValues" in spec:
        parts.append(", ".join(md_code(_scalar(v)) for v in spec["AllowedValues"]))
    lo, hi = spec.get("MinValue"), spec.get("MaxValue")
    if lo is not None and hi is not None:
        parts.append(f"{md_code(_scalar(lo))}{DASH}{md_code(_scalar(hi))}")
    elif lo is not None:
        parts.append(f"≥ {md_code(_scalar(lo))}")
    elif hi is not None:
        parts.append(f"≤ {md_code(_scalar(hi))}")
    lo, hi = spec.get("MinLength"), spec.get("MaxLength")
    if lo is not None and hi is not None:
        parts.append(f"length {_scalar(lo)}{DASH}{_scalar(hi)}")
    elif lo is not None:
        parts.append(f"length ≥ {_scalar(lo)}")
    elif hi is not None:
        parts.append(f"length ≤ {_scalar(hi)}")
    if "AllowedPattern" in spec:
        parts.append(f"pattern {md_code(_scalar(spec['AllowedPattern']))}")
    return "; ".join(parts)


def _default(spec: Mapping[str, Any]) -> str:
    if spec.get("NoEcho") in (True, "true", "True"):
        return "(hidden)" if "Default" in spec else "**required**"
    if "Default" not in spec:
        return "**required**"
    value = spec["Default"]
    if isinstance(value, list):
        value = ",".join(_scalar(v) for v in value)
    return md_code(_scalar(value))


def parameters_markdown(data: Mapping[str, Any]) -> str:
    """The template's Parameters as a Markdown table, in console ParameterGroups order.

    Columns: group (on the first row of each group), name, type, default
    (**required** when there is none), allowed values / range / length /
    pattern, and the console label with the description.
    """
    params: Mapping[str, Any] = data.get("Parameters", {})
    labels = (
        data.get("Metadata", {})
        .get("AWS::CloudFormation::Interface", {})
        .get("ParameterLabels", {})
    )
    rows: list[tuple[str, ...]] = []
    previous_group: str | None = None
    for group, name in _parameter_order(data):
        spec = params[name]
        label = _scalar(labels.get(name, {}).get("default", ""))
        description = md_text(_scalar(spec.get("Description", "")))
        if label:
            description = f"**{md_text(label)}** — {description}".rstrip(" —")
        rows.append(
            (
                md_text(group) if group != previous_group else "",
                md_code(name),
                md_code(_scalar(spec.get("Type", ""))),
                _default(spec),
                _allowed(spec) or _NONE,
                description or _NONE,
            )
        )
        previous_group = group
    header = ("Group", "Parameter", "Type", "Default", "Allowed", "Description")
    return _table(header, rows)


def outputs_markdown(data: Mapping[str, Any]) -> str:
    """The template's Outputs as a Markdown table, in template order."""
    conditions: Mapping[str, Any] = data.get("Conditions", {})
    rows: list[tuple[str, ...]] = []
    for name, spec in data.get("Outputs", {}).items():
        export = spec.get("Export", {}).get("Name")
        condition = spec.get("Condition")
        condition_cell = ""
        if condition is not None:
            condition_cell = md_code(_scalar(condition))
            if condition in conditions:
                condition_cell += f": {md_code(condition_text(conditions[condition]))}"
        rows.append(
            (
                md_code(name),
                md_code(intrinsic_text(spec.get("Value", ""))),
                md_code(_export_name(export)) if export is not None else _NONE,
                condition_cell or _NONE,
                md_text(_scalar(spec.get("Description", ""))) or _NONE,
            )
        )
    return _table(("Output", "Value", "Export name", "Condition", "Description"), rows)


# --------------------------------------------------------------------------- references


@dataclass(frozen=True, order=True)
class Edge:
    """``source`` refers to ``target``; ``when`` is the Fn::If context ("" = always)."""

    source: str
    target: str
    when: str = ""
    depends_on: bool = False


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _sub_names(template: str) -> Iterator[str]:
    """Names a Fn::Sub string refers to: ``${X}`` and ``${X.Attr}``, not ``${!Literal}``."""
    for match in _SUB_VAR.finditer(template):
        var = match.group(1).strip()
        if var and not var.startswith("!"):
            yield var.split(".", 1)[0] if "::" not in var else var


def _references(value: Any, context: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(logical ID or parameter name, Fn::If context) for every reference in ``value``."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item, context)
        return
    if not isinstance(value, Mapping):
        return
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            yield arg, context
            return
        if key == "Fn::GetAtt":
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                yield arg[0], context
                yield from _references(arg[1:], context)
            elif isinstance(arg, str):
                yield arg.split(".", 1)[0], context
            return
        if key == "Fn::Sub":
            if isinstance(arg, str):
                yield from ((name, context) for name in _sub_names(arg))
            elif isinstance(arg, list) and arg and isinstance(arg[0], str):
                local = set(arg[1]) if len(arg) > 1 and isinstance(arg[1], Mapping) else set()
                for name in _sub_names(arg[0]):
                    if name not in local:
                        yield name, context
                yield from _references(arg[1:], context)
            return
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            cond = _scalar(arg[0])
            yield from _references(arg[1], (*context, cond))
            yield from _references(arg[2], (*context, f"not {cond}"))
            return
    for item in value.values():
        yield from _references(item, context)


def resource_edges(data: Mapping[str, Any]) -> list[Edge]:
    """Every reference from one resource to another, found by walking the template.

    Ref, Fn::GetAtt and the ``${X}`` / ``${X.Attr}`` variables of Fn::Sub count;
    references to parameters and pseudo parameters (``AWS::Region``) do not. A
    reference found only inside Fn::If branches carries that condition; a
    DependsOn with no reference is an edge of its own kind. Sorted.
    """
    resources: Mapping[str, Any] = data.get("Resources", {})
    edges: list[Edge] = []
    for source, resource in resources.items():
        body = {k: v for k, v in resource.items() if k not in ("Type", "Condition", "DependsOn")}
        contexts: dict[str, set[tuple[str, ...]]] = {}
        for target, context in _references(body, ()):
            if target in resources and target != source:
                contexts.setdefault(target, set()).add(context)
        for target, seen in contexts.items():
            if () in seen:
                edges.append(Edge(source, target))
            else:
                terms = sorted(" and ".join(c) for c in seen)
                if len(terms) > 1:
                    terms = [f"({t})" if " and " in t else t for t in terms]
                when = " or ".join(terms)
                edges.append(Edge(source, target, when))
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target in resources and target not in contexts and target != source:
                edges.append(Edge(source, target, depends_on=True))
    return sorted(set(edges))


# --------------------------------------------------------------------------- Mermaid


def _short_type(resource_type: str) -> str:
    """``AWS::Batch::ComputeEnvironment`` -> ``Batch::ComputeEnvironment``."""
    return resource_type.removeprefix("AWS::")


def _service(resource_type: str) -> str:
    parts = resource_type.split("::")
    if parts[0] == "AWS" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _mermaid_id(name: str) -> str:
    # Logical IDs are alphanumeric; anything else becomes "_". Mermaid reserves
    # the lower-case word "end".
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"{safe}_" if safe.lower() == "end" else safe


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(data: Mapping[str, Any]) -> str:
    """A Mermaid flowchart: one node per resource, grouped by AWS service, an
    arrow from each resource to every resource it refers to.

    Conditional resources have a dashed border and an ``if <Condition>`` line;
    references made only inside Fn::If are dashed arrows labelled with the
    condition; a bare DependsOn is a thick arrow labelled ``DependsOn``.
    """
    resources: Mapping[str, Any] = data.get("Resources", {})
    by_service: dict[str, list[str]] = {}
    for name, resource in resources.items():
        by_service.setdefault(_service(_scalar(resource.get("Type", ""))), []).append(name)

    lines = ["flowchart LR"]
    conditional: list[str] = []
    for service in sorted(by_service):
        lines.append(f'  subgraph svc_{_mermaid_id(service)}["{_mermaid_label(service)}"]')
        for name in sorted(by_service[service]):
            resource = resources[name]
            label = f"{name}<br/>{_short_type(_scalar(resource.get('Type', '')))}"
            if "Condition" in resource:
                label += f"<br/><i>if {_scalar(resource['Condition'])}</i>"
                conditional.append(_mermaid_id(name))
            lines.append(f'    {_mermaid_id(name)}["{_mermaid_label(label)}"]')
        lines.append("  end")
    for edge in resource_edges(data):
        src, dst = _mermaid_id(edge.source), _mermaid_id(edge.target)
        if edge.depends_on:
            lines.append(f"  {src} ==>|DependsOn| {dst}")
        elif edge.when:
            lines.append(f'  {src} -.->|"if {_mermaid_label(edge.when)}"| {dst}')
        else:
            lines.append(f"  {src} --> {dst}")
    if conditional:
        lines.append("  classDef conditional stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(sorted(conditional))} conditional")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- README


def profiles_markdown(profiles: Sequence[Profile]) -> str:
    """The README's profile table: name, file, what it is for, resources."""
    from cfgen.render import to_data

    lines = [
        "| profile | template | what it is for | resources |",
        "|---|---|---|---|",
    ]
    for p in profiles:
        count = len(to_data(p)["Resources"])
        lines.append(f"| `{p.name}` | `build/{p.output_file}` | {p.description} | {count} |")
    return "\n".join(lines) + "\n"


def _marker(kind: str, section: str) -> str:
    return f"<!-- {kind} {section} -->"


def readme_sections(data: Mapping[str, Any]) -> dict[str, str]:
    """The text that belongs between each pair of README markers."""
    return {
        "parameters": "\n\n" + parameters_markdown(data) + "\n",
        "outputs": "\n\n" + outputs_markdown(data) + "\n",
        "diagram": "\n\n```mermaid\n" + mermaid(data) + "```\n\n",
    }


def replace_sections(text: str, sections: Mapping[str, str], *, source: str = "README") -> str:
    """Replace what lies between each ``<!-- BEGIN s -->`` / ``<!-- END s -->`` pair.

    Every section must have exactly one BEGIN marker followed by one END marker;
    otherwise :class:`DocsError` names the marker and the fix.
    """
    for section, content in sections.items():
        begin, end = _marker("BEGIN", section), _marker("END", section)
        for marker in (begin, end):
            count = text.count(marker)
            if count != 1:
                found = "not found" if count == 0 else f"found {count} times"
                raise DocsError(
                    f"{source}: marker {marker!r} {found}; each of {', '.join(sections)}"
                    " needs exactly one BEGIN and one END marker"
                )
        start = text.index(begin) + len(begin)
        stop = text.index(end)
        if stop < start:
            raise DocsError(f"{source}: marker {end!r} comes before {begin!r}")
        text = text[:start] + content + text[stop:]
    return text


def update_readme(readme_text: str, profile: Profile | str) -> str:
    """The README with its parameters, outputs and diagram sections rendered from
    ``profile`` (a Profile, or a name or path for ``load_profile``)."""
    from cfgen.config import list_profiles, load_profile
    from cfgen.render import to_data

    if isinstance(profile, str):
        profile = load_profile(profile)
    sections = readme_sections(to_data(profile))
    if "<!-- BEGIN profiles -->" in readme_text:
        # The table of every profile (name, file, purpose, resource count).
        sections["profiles"] = "\n" + profiles_markdown([load_profile(n) for n in list_profiles()])
    return replace_sections(readme_text, sections)


# --------------------------------------------------------------------------- command line


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        default="default",
        help="profile name in templates/ or path to a .toml file (default: default)",
    )


def _load(name_or_path: str) -> Profile:
    from cfgen.config import ConfigError, load_profile

    try:
        return load_profile(name_or_path)
    except ConfigError as err:
        raise _UsageError(str(err)) from None


def _data(name_or_path: str) -> dict[str, Any]:
    from cfgen.render import to_data

    return to_data(_load(name_or_path))


def _fail(message: str) -> int:
    print(f"cfgen: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _read_readme(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _UsageError(f"readme={str(path)!r}: file not found") from None
    except IsADirectoryError:
        raise _UsageError(f"readme={str(path)!r}: is a directory; give the README file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _UsageError(f"readme={str(path)!r}: cannot read: {err}") from None


def _readme_command(path: Path, profile: str, *, write: bool) -> int:
    from cfgen.cli import UsageError, write_atomic

    text = _read_readme(path)
    try:
        fresh = update_readme(text, _load(profile))
    except DocsError as err:
        raise _UsageError(str(err)) from None
    if fresh == text:
        print(f"{path}: generated sections are up to date")
        return EXIT_OK
    if not write:
        print(f"{path}: generated sections differ from a fresh render", file=sys.stderr)
        print(f"to fix: {UPDATE_COMMAND}", file=sys.stderr)
        return EXIT_FINDINGS
    try:
        write_atomic(path, fresh)
    except UsageError as err:
        raise _UsageError(str(err)) from None
    print(f"{path}: updated the {', '.join(SECTIONS)} sections")
    return EXIT_OK


def docs_main(argv: list[str]) -> int:
    """``cfgen docs``: Markdown tables of the parameters and outputs, or refresh the README."""
    p = _Parser(
        prog="cfgen docs",
        description="Print Markdown tables of a profile's parameters and outputs.",
    )
    _add_profile(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--update-readme",
        nargs="?",
        const="README.md",
        metavar="README",
        help="rewrite the parameters/outputs/diagram sections between the README's markers"
        " (default file: README.md)",
    )
    mode.add_argument(
        "--check-readme",
        nargs="?",
        const="README.md",
        metavar="README",
        help="exit 1 if those sections differ from a fresh render (default file: README.md)",
    )
    try:
        args = p.parse_args(argv)
        if args.update_readme is not None:
            return _readme_command(Path(args.update_readme), args.profile, write=True)
        if args.check_readme is not None:
            return _readme_command(Path(args.check_readme), args.profile, write=False)
        data = _data(args.profile)
    except _UsageError as err:
        return _fail(str(err))
    sys.stdout.write(
        f"## Parameters\n\n{parameters_markdown(data)}\n## Outputs\n\n{outputs_markdown(data)}"
    )
    return EXIT_OK


def diagram_main(argv: list[str]) -> int:
    """``cfgen diagram``: a Mermaid flowchart of a profile's resources and references."""
    p = _Parser(
        prog="cfgen diagram",
        description="Print a Mermaid flowchart of a profile's resources and the references"
        " between them.",
    )
    _add_profile(p)
    try:
        args = p.parse_args(argv)
        data = _data(args.profile)
    except _UsageError as err:
        return _fail(str(err))
    sys.stdout.write(mermaid(data))
    return EXIT_OK
