"""IAM policy documents: statements, actions, principals."""

from __future__ import annotations

import fnmatch
from typing import Any

from cfgen.lint.model.values import as_list


def statements(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    st = doc.get("Statement")
    if isinstance(st, dict):
        return [st]
    return [s for s in st if isinstance(s, dict)] if isinstance(st, list) else []


def action_allows(actions: Any, wanted: str) -> bool:
    for a in as_list(actions):
        if isinstance(a, str) and fnmatch.fnmatchcase(wanted.lower(), a.lower()):
            return True
    return False


def service_principal(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if principal.get("AWS") == "*":
            return True
        for s in as_list(principal.get("Service")):
            if isinstance(s, str) and s == service:
                return True
            if isinstance(s, dict) and "Fn::Sub" in s and str(s["Fn::Sub"]).startswith(service):
                return True
    return False
