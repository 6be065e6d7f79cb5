"""cfgen docs / diagram: Markdown tables and Mermaid diagram derived from the rendered template.

The tables and the diagram are checked against the template data itself (and the
diagram's edges against cfn-lint's own dependency graph), and the README's
generated sections against a fresh render (drift test).
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cfgen import docs
from cfgen.clikit import UsageError
from cfgen.config import Profile, list_profiles, load_profile
from cfgen.docs import cli as docs_cli
from cfgen.render import to_data

FIX = "python -m cfgen docs --update-readme"
PROFILES = list_profiles()
_DATA: dict[str, dict[str, Any]] = {}


@pytest.fixture(params=PROFILES)
def any_data(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every profile in templates/, rendered once (read-only)."""
    name: str = request.param
    if name not in _DATA:
        _DATA[name] = to_data(load_profile(name))
    return _DATA[name]


# --------------------------------------------------------------------------- helpers


def cells(row: str) -> list[str]:
    """Split a GFM table row on unescaped pipes (``\\|`` stays inside its cell)."""
    assert row.startswith("| ") and row.endswith(" |"), row
    return [c.strip() for c in re.split(r"(?<!\\)\|", row[1:-1])]


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    header, rule, *rows = lines
    assert re.fullmatch(r"\|(---\|)+", rule), rule
    width = len(cells(header))
    parsed = [cells(row) for row in rows]
    for row, raw in zip(parsed, rows, strict=True):
        assert len(row) == width, f"row has {len(row)} cells, header {width}: {raw}"
    return parsed


def code(cell: str) -> str:
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"not a code span: {cell!r}"
    return m.group(1).replace("\\|", "|")


def edges(diagram: str) -> dict[tuple[str, str], str]:
    """(source, target) -> arrow text, from Mermaid edge lines."""
    found: dict[tuple[str, str], str] = {}
    for line in diagram.splitlines():
        m = re.fullmatch(r"\s*(\w+) (-->|-\.->\|[^|]*\||==>\|[^|]*\|) (\w+)", line)
        if m:
            found[(m.group(1), m.group(3))] = m.group(2)
    return found


def nodes(diagram: str) -> dict[str, str]:
    return dict(re.findall(r'^\s+(\w+)\["([^"]*)"\]$', diagram, flags=re.MULTILINE))


def console_order(data: dict[str, Any]) -> list[str]:
    groups = data["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    return [name for group in groups for name in group["Parameters"]]


# --------------------------------------------------------------------------- parameters


def test_parameters_table_lists_exactly_the_parameters_in_console_order(
    any_data: dict[str, Any],
) -> None:
    rows = table_rows(docs.parameters_markdown(any_data))
    names = [code(row[1]) for row in rows]
    assert sorted(names) == sorted(any_data["Parameters"])
    assert names == console_order(any_data)


def test_parameters_table_cells_come_from_the_template(default_data: dict[str, Any]) -> None:
    rows = {code(r[1]): r for r in table_rows(docs.parameters_markdown(default_data))}
    params = default_data["Parameters"]
    for name, row in rows.items():
        spec = params[name]
        assert code(row[2]) == spec["Type"]
        if "Default" in spec:
            shown = code(row[3])
            assert shown == (spec["Default"] or '""'), name
        else:
            assert row[3] == "**required**", name
        if "AllowedPattern" in spec:
            assert f"pattern `{spec['AllowedPattern']}`" in row[4].replace("\\|", "|"), name
        if "MinValue" in spec and "MaxValue" in spec:
            assert f"`{spec['MinValue']}`{docs.DASH}`{spec['MaxValue']}`" in row[4], name
        for value in spec.get("AllowedValues", []):
            assert f"`{value}`" in row[4], name
    assert rows["VpcId"][3] == "**required**"
    assert code(rows["MaxvCpus"][3]) == "256"
    assert rows["LogRetentionDays"][4].count("`") == 2 * len(
        params["LogRetentionDays"]["AllowedValues"]
    )
    # The group label appears once, on the first parameter of each group.
    assert [r[0] for r in rows.values() if r[0]] == ["Network", "Compute", "Job", "Operations"]


def test_pipes_in_patterns_and_descriptions_are_escaped(default_data: dict[str, Any]) -> None:
    row = next(
        r
        for r in table_rows(docs.parameters_markdown(default_data))
        if code(r[1]) == "ServiceRoleArn"
    )
    assert "`^$\\|^arn:aws" in row[4]  # the real template: an alternation in a pattern

    data = copy.deepcopy(default_data)
    data["Parameters"]["Odd"] = {
        "Type": "String",
        "Default": "a|b",
        "AllowedPattern": "^(a|b)$",
        "AllowedValues": ["a|b", "c"],
        "Description": "pick a | b, not <c> or `d` *e*",
    }
    data["Outputs"]["OddOut"] = {"Value": "x|y", "Description": "either | or"}
    rows = {code(r[1]): r for r in table_rows(docs.parameters_markdown(data))}
    odd = rows["Odd"]  # table_rows asserted every row has exactly 6 cells
    assert odd[0] == "Other"  # not in any ParameterGroup: listed last
    assert odd[3] == "`a\\|b`"
    assert "pattern `^(a\\|b)$`" in odd[4]
    assert odd[5] == "pick a \\| b, not \\<c\\> or \\`d\\` \\*e\\*"
    out = {code(r[0]): r for r in table_rows(docs.outputs_markdown(data))}
    assert out["OddOut"][1] == "`x\\|y`"
    assert out["OddOut"][4] == "either \\| or"


def test_code_spans_survive_backticks() -> None:
    assert docs.md_code("a`b") == "``a`b``"
    assert docs.md_code("`x") == "`` `x ``"
    assert docs.md_code("") == '`""`'
    assert docs.md_text("snake_case and _emph_") == "snake_case and \\_emph\\_"


# --------------------------------------------------------------------------- outputs


def test_outputs_table_lists_exactly_the_outputs(any_data: dict[str, Any]) -> None:
    rows = table_rows(docs.outputs_markdown(any_data))
    assert [code(r[0]) for r in rows] == list(any_data["Outputs"])
    for row in rows:
        name = code(row[0])
        spec = any_data["Outputs"][name]
        assert code(row[2]) == spec["Export"]["Name"]["Fn::Sub"]
        assert code(row[2]) == f"${{AWS::StackName}}-{name}"
        assert row[4] == docs.md_text(spec["Description"])
        if "Condition" in spec:
            assert row[3].startswith(f"`{spec['Condition']}`")
        else:
            assert row[3] == docs.DASH


def test_outputs_table_default_profile(default_data: dict[str, Any]) -> None:
    by_name = {code(r[0]): r for r in table_rows(docs.outputs_markdown(default_data))}
    assert by_name["OnDemandComputeEnvironmentArn"][3] == (
        "`HasOnDemandFallback`: `OnDemandMaxvCpus ≠ 0`"
    )
    assert code(by_name["JobQueueArn"][1]) == "!Ref JobQueue"
    assert code(by_name["RepositoryUri"][1]) == "!GetAtt Repository.RepositoryUri"


def test_condition_text() -> None:
    ref = {"Ref": "Size"}
    assert docs.condition_text({"Fn::Equals": [ref, ""]}) == 'Size = ""'
    assert docs.condition_text({"Fn::Not": [{"Fn::Equals": [ref, "0"]}]}) == "Size ≠ 0"
    assert (
        docs.condition_text(
            {
                "Fn::And": [
                    {"Condition": "A"},
                    {"Fn::Or": [{"Fn::Equals": ["x", ref]}, {"Fn::Not": [{"Condition": "B"}]}]},
                ]
            }
        )
        == "A and (x = Size or not B)"
    )
    assert (
        docs.condition_text({"Fn::Contains": [["a"], ref]})
        == '{"Fn::Contains":[["a"],{"Ref":"Size"}]}'
    )


# --------------------------------------------------------------------------- diagram


def test_diagram_has_a_node_per_resource_with_its_short_type(
    default_data: dict[str, Any],
) -> None:
    diagram = docs.mermaid(default_data)
    assert diagram.startswith("flowchart LR\n")
    found = nodes(diagram)
    assert set(found) == set(default_data["Resources"])
    assert found["SpotComputeEnvironment"] == (
        "SpotComputeEnvironment<br/>Batch::ComputeEnvironment"
    )
    assert found["OnDemandComputeEnvironment"].endswith("<br/><i>if HasOnDemandFallback</i>")
    conditional = sorted(n for n, r in default_data["Resources"].items() if "Condition" in r)
    assert {"AlertEmailSubscription", "OnDemandComputeEnvironment"} <= set(conditional)
    assert f"  class {','.join(conditional)} conditional\n" in diagram
    for name in conditional:
        condition = default_data["Resources"][name]["Condition"]
        assert found[name].endswith(f"<br/><i>if {condition}</i>")
    # grouped by service: the Batch subgraph holds exactly the Batch resources
    batch = diagram.split('subgraph svc_Batch["Batch"]\n', 1)[1].split("  end\n", 1)[0]
    assert set(nodes(batch)) == {
        n for n, r in default_data["Resources"].items() if r["Type"].startswith("AWS::Batch::")
    }


def test_diagram_edges_for_known_references(default_data: dict[str, Any]) -> None:
    found = edges(docs.mermaid(default_data))
    assert found[("JobQueue", "SpotComputeEnvironment")] == "-->"
    assert found[("SpotComputeEnvironment", "ComputeLaunchTemplate")] == "-->"  # Ref + GetAtt
    assert found[("SpotComputeEnvironment", "InstanceProfile")] == "-->"
    assert found[("WorkerJobDefinition", "JobRole")] == "-->"
    assert found[("InstanceProfile", "InstanceRole")] == "-->"
    assert found[("JobFailedRule", "AlertTopic")] == "-->"
    # only inside Fn::If: a dashed arrow labelled with the condition
    assert found[("JobQueue", "OnDemandComputeEnvironment")] == '-.->|"if HasOnDemandFallback"|'
    assert found[("WorkerJobDefinition", "Repository")] == '-.->|"if UseStackRepository"|'


def test_diagram_nodes_and_no_edges_to_parameters(any_data: dict[str, Any]) -> None:
    diagram = docs.mermaid(any_data)
    resources = set(any_data["Resources"])
    assert set(nodes(diagram)) == resources
    found = edges(diagram)
    assert found
    for source, target in found:
        assert source in resources and target in resources, (source, target)
    assert not {t for _, t in found} & set(any_data["Parameters"])


def test_diagram_edges_match_cfn_lint_dependency_graph(any_data: dict[str, Any]) -> None:
    """An independent oracle: cfn-lint's own graph of Ref/GetAtt/Sub/DependsOn edges."""
    from cfnlint.template import Template

    # cfn-lint normalises the template in place (e.g. Fn::Equals operand order): a copy.
    mine = copy.deepcopy(any_data)
    graph = Template("template.yaml", mine, ["us-east-1"]).graph.graph
    resources = set(any_data["Resources"])
    theirs = {(a, b) for a, b in graph.edges() if a in resources and b in resources and a != b}
    assert set(edges(docs.mermaid(any_data))) == theirs


def test_reference_discovery_on_every_form() -> None:
    data: dict[str, Any] = {
        "Parameters": {"Size": {"Type": "Number"}},
        "Conditions": {"Big": {"Fn::Equals": [{"Ref": "Size"}, "9"]}},
        "Resources": {
            "A": {"Type": "AWS::S3::Bucket"},
            "B": {"Type": "AWS::S3::Bucket"},
            "C": {"Type": "AWS::SNS::Topic"},
            "D": {"Type": "AWS::SQS::Queue"},
            "E": {"Type": "Custom::Thing", "Condition": "Big"},
            "F": {"Type": "AWS::IAM::Role"},
            "G": {"Type": "AWS::IAM::Role"},
            "Main": {
                "Type": "AWS::Lambda::Function",
                "DependsOn": ["F", "A"],
                "Properties": {
                    "One": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${A}/${B.Arn} ${!C} ${Size}"},
                    "Two": {"Fn::Sub": ["${X}-${C}", {"X": {"Fn::GetAtt": "D.Arn"}}]},
                    "Three": {"Fn::If": ["Big", {"Ref": "E"}, {"Ref": "AWS::NoValue"}]},
                    "Four": {"Fn::If": ["Big", "x", {"Fn::GetAtt": ["Main", "Arn"]}]},
                    "Six": {"Fn::If": ["Small", {"Fn::If": ["Big", "x", {"Ref": "G"}]}, "y"]},
                    "Seven": {"Fn::If": ["Big", {"Ref": "G"}, "z"]},
                    "Five": {"Ref": "Size"},
                },
            },
        },
    }
    assert docs.resource_edges(data) == [
        docs.Edge("Main", "A"),  # ${A}; the DependsOn on A adds nothing
        docs.Edge("Main", "B"),  # ${B.Arn}
        docs.Edge("Main", "C"),  # ${C} in the list form; ${!C} is a literal
        docs.Edge("Main", "D"),  # GetAtt in short string form, inside a Sub variable map
        docs.Edge("Main", "E", when="Big"),
        docs.Edge("Main", "F", depends_on=True),
        docs.Edge("Main", "G", when="Big or (Small and not Big)"),
    ]
    diagram = docs.mermaid(data)
    assert "  Main ==>|DependsOn| F\n" in diagram
    assert '  Main -.->|"if Big"| E\n' in diagram
    assert 'E["E<br/>Custom::Thing<br/><i>if Big</i>"]' in diagram
    assert 'subgraph svc_Custom["Custom"]' in diagram
    assert "Size" not in diagram


def test_output_is_deterministic(default_profile: Profile, default_data: dict[str, Any]) -> None:
    again = to_data(default_profile)
    assert docs.mermaid(again) == docs.mermaid(default_data)
    assert docs.parameters_markdown(again) == docs.parameters_markdown(default_data)
    assert docs.outputs_markdown(again) == docs.outputs_markdown(default_data)
    # The diagram does not depend on the order resources are listed in.
    shuffled = dict(default_data)
    shuffled["Resources"] = dict(reversed(list(default_data["Resources"].items())))
    assert docs.mermaid(shuffled) == docs.mermaid(default_data)
    lines = docs.mermaid(default_data).splitlines()
    pairs = [next(iter(edges(line))) for line in lines if edges(line)]
    assert pairs == sorted(pairs)  # edges sorted by (source, target)


# --------------------------------------------------------------------------- README


def test_readme_sections_match_a_fresh_render(repo: Path, default_profile: Profile) -> None:
    readme = (repo / "README.md").read_text(encoding="utf-8")
    try:
        fresh = docs.update_readme(readme, default_profile)
    except UsageError as err:
        pytest.fail(f"{err}. Add the marker pairs to README.md, then run: {FIX}")
    if fresh != readme:
        pytest.fail(
            "README.md's generated parameters/outputs/diagram sections differ from a"
            f" fresh render of the default profile. To fix, run: {FIX}",
            pytrace=False,
        )


README = """# title

intro

<!-- BEGIN parameters -->
stale table
<!-- END parameters -->

## Outputs
<!-- BEGIN outputs --><!-- END outputs -->

<!-- BEGIN diagram -->
old
<!-- END diagram -->
tail
"""


def test_update_readme_replaces_only_the_marked_sections(
    default_profile: Profile, default_data: dict[str, Any]
) -> None:
    out = docs.update_readme(README, default_profile)
    assert out.startswith("# title\n\nintro\n\n<!-- BEGIN parameters -->\n\n| Group |")
    assert "stale table" not in out and "\nold\n" not in out
    assert out.endswith("```\n\n<!-- END diagram -->\ntail\n")
    assert docs.parameters_markdown(default_data) in out
    assert docs.outputs_markdown(default_data) in out
    assert "```mermaid\n" + docs.mermaid(default_data) + "```\n" in out
    assert "\n## Outputs\n<!-- BEGIN outputs -->\n\n| Output |" in out
    assert docs.update_readme(out, default_profile) == out  # idempotent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (README.replace("<!-- END outputs -->", ""), "'<!-- END outputs -->' not found"),
        (README + "<!-- BEGIN diagram -->\n", "'<!-- BEGIN diagram -->' found 2 times"),
        (
            README.replace("<!-- BEGIN outputs --><!-- END outputs -->", "").replace(
                "## Outputs", "<!-- END outputs --><!-- BEGIN outputs -->"
            ),
            "'<!-- END outputs -->' comes before '<!-- BEGIN outputs -->'",
        ),
    ],
)
def test_update_readme_rejects_bad_markers(
    default_profile: Profile, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        docs.update_readme(text, default_profile)


# --------------------------------------------------------------------------- command line


def test_docs_main_prints_both_tables(
    capsys: pytest.CaptureFixture[str], default_data: dict[str, Any]
) -> None:
    assert docs_cli.docs_main([]) == 0
    out = capsys.readouterr().out
    assert out == (
        "## Parameters\n\n"
        + docs.parameters_markdown(default_data)
        + "\n## Outputs\n\n"
        + docs.outputs_markdown(default_data)
    )


def test_diagram_main_prints_the_diagram(
    capsys: pytest.CaptureFixture[str], default_data: dict[str, Any]
) -> None:
    assert docs_cli.diagram_main(["--profile", "default"]) == 0
    assert capsys.readouterr().out == docs.mermaid(default_data)


@pytest.mark.parametrize("main", [docs_cli.docs_main, docs_cli.diagram_main])
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--profile", "nope"], "profile='nope'"),
        (["--profile", "/no/such/file.toml"], "file.toml"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], main: Any, argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(("cfgen docs: error: ", "cfgen diagram: error: "))
    assert captured.err.count("\n") == 1
    assert needle in captured.err


def test_update_readme_command_rewrites_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], default_profile: Profile
) -> None:
    path = tmp_path / "README.md"
    path.write_text(README, encoding="utf-8")
    assert docs_cli.docs_main(["--check-readme", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"to fix: {FIX}" in err
    assert path.read_text(encoding="utf-8") == README

    assert docs_cli.docs_main(["--update-readme", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == docs.update_readme(README, default_profile)
    assert "updated" in capsys.readouterr().out
    assert docs_cli.docs_main(["--check-readme", str(path)]) == 0
    assert docs_cli.docs_main(["--update-readme", str(path)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temp files left


def test_update_readme_command_bad_input_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "README.md"
    broken = README.replace("<!-- BEGIN diagram -->", "")
    path.write_text(broken, encoding="utf-8")
    assert docs_cli.docs_main(["--update-readme", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'<!-- BEGIN diagram -->' not found" in err
    assert path.read_text(encoding="utf-8") == broken

    assert docs_cli.docs_main(["--update-readme", str(tmp_path / "missing.md")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert docs_cli.docs_main(["--update-readme", str(path), "--profile", "nope"]) == 2
    assert path.read_text(encoding="utf-8") == broken
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_python_dash_m_cfgen_docs_and_diagram(
    python: str, cfgen_env: dict[str, str], default_data: dict[str, Any]
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, *args], env=cfgen_env, capture_output=True, text=True, timeout=120
        )

    ok = run("-m", "cfgen", "docs")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == (
        "## Parameters\n\n"
        + docs.parameters_markdown(default_data)
        + "\n## Outputs\n\n"
        + docs.outputs_markdown(default_data)
    )

    bad = run("-m", "cfgen", "docs", "--profile", "nope")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("cfgen docs: error: profile='nope'")
    assert bad.stderr.count("\n") == 1

    # docs stays light: numpy and boto3 belong to other subcommands.
    script = (
        "import sys\n"
        "from cfgen.cli import main\n"
        "assert main(['diagram']) == 0\n"
        "heavy = sorted({'numpy', 'boto3', 'botocore'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    light = run("-c", script)
    assert light.returncode == 0, light.stderr
    assert light.stdout == docs.mermaid(default_data)
