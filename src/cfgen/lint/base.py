# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""The base of every cfgen rule: a rule is its metadata and its ``check``.

``BatchRule.match`` builds (or reuses) the template's :class:`~cfgen.lint.model.Model`,
hands ``check`` a :class:`~cfgen.lint.model.Findings` to add to, and returns the
deduplicated matches. Rule files import this *module* (``from cfgen.lint import
base``), never the class itself: cfn-lint instantiates every
``CloudFormationLintRule`` subclass it finds among a rule file's names.

A new rule file under ``src/cfgen/lint/rules/<section>/`` needs nothing else:
cfn-lint walks the rules directory, and ``cfgen.lint.rules`` discovers it too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfgen.lint import ids
from cfgen.lint import model as mdl


class BatchRule(CloudFormationLintRule):
    """A cfgen rule; subclasses set the metadata and implement :meth:`check`."""

    id = ""
    shortdesc = ""
    description = ""
    source_url = ""
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        out = mdl.Findings(cfn, self.id)
        self.check(mdl.model(cfn), out)
        return out.matches()

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        """Add this rule's findings for template ``m`` to ``out``."""
        raise NotImplementedError

    def is_enabled(
        self,
        include_experimental: bool = False,
        ignore_rules: list[str] | None = None,
        include_rules: list[str] | None = None,
        mandatory_rules: list[str] | None = None,
    ) -> bool:
        """cfn-lint's decision, plus: an ignored *old* id (E90NN/W90NN) disables it too."""
        enabled = bool(
            super().is_enabled(include_experimental, ignore_rules, include_rules, mandatory_rules)
        )
        if enabled and ignore_rules and ids.ignored_by_old_id(self.id, ignore_rules):
            return any(self.id.startswith(r) for r in mandatory_rules or [] if r)
        return enabled
