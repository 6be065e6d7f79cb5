# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9553, E9554: dashboard rules (what a dashboard graphs, and whether its body parses)."""

from __future__ import annotations

import json
from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import dashboards as sup


class DashboardMetric(base.BatchRule):
    id = "E9553"
    shortdesc = "Dashboard graphs a metric its namespace does not publish"
    description = (
        "A metric widget line in AWS/Batch, cfgen/Worker or cfgen/Cost must name a metric "
        "that namespace publishes, with exactly its dimensions (AWS/Batch: the metrics table "
        "of E9550, dimension JobQueueName; cfgen/Worker: the worker's EMF metrics, cfgen/Cost: "
        "the cost ledger's, dimension JobQueue); otherwise the graph stays empty. Checked after "
        "Fn::Sub/Fn::Join substitution. Names AWS adds later: configure_rules E9553 "
        "extra_metric_names."
    )
    source_url = "https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html"
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "batch"]

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {
            "extra_metric_names": {"default": [], "type": "list", "itemtype": "string"},
        }
        self.configure()

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        extra = set(self.config.get("extra_metric_names") or [])
        for dash in m.all_variants(sup.DASHBOARD):
            text = sup.substituted(dash.props.get("DashboardBody"))
            try:
                body = json.loads(text) if text is not None else None
            except ValueError:
                continue  # E9554 reports it
            where = mdl.res_path(dash.logical_id, "DashboardBody")
            for g in sup.graphed_metrics(body):
                if g.namespace not in sup.PUBLISHED:
                    continue
                names, dims = sup.PUBLISHED[g.namespace]
                widget = f"widget {g.widget} ({g.title!r})"
                if sup.PLACEHOLDER not in g.name and g.name not in {*names, *extra}:
                    out.add(where, f"{widget}: {g.namespace} publishes no metric {g.name}")
                elif g.dimensions != dims and not any(sup.PLACEHOLDER in d for d in g.dimensions):
                    shown = ", ".join(g.dimensions) or "none"
                    out.add(
                        where,
                        f"{widget}: {g.namespace} {g.name} carries exactly the dimension "
                        f"{', '.join(dims)}, not {shown}",
                    )


class DashboardBodyJson(base.BatchRule):
    id = "E9554"
    shortdesc = "Dashboard body is not valid JSON after substitution"
    description = (
        "DashboardBody must be a JSON object with a widgets array. Each ${...} of an Fn::Sub "
        "and each intrinsic part of an Fn::Join is replaced by a placeholder valid in a JSON "
        "string and as a number; if the text still does not parse (a stray quote, a "
        "trailing comma, a value that needs escaping), CloudFormation fails the dashboard "
        "at deploy time."
    )
    source_url = sup.BODY_STRUCTURE
    tags: ClassVar[list[str]] = ["resources", "cloudwatch"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for dash in m.all_variants(sup.DASHBOARD):
            text = sup.substituted(dash.props.get("DashboardBody"))
            if text is None:
                continue  # a parameter or an attribute: unknown until deploy
            where = mdl.res_path(dash.logical_id, "DashboardBody")
            try:
                body = json.loads(text)
            except ValueError as exc:
                out.add(where, f"DashboardBody is not valid JSON after substitution: {exc}")
                continue
            widgets = body.get("widgets") if isinstance(body, dict) else None
            if not isinstance(widgets, list):
                out.add(where, "DashboardBody must be a JSON object with a widgets array")
