"""cfgen's rule-id block, and the ids it used before.

cfgen's rules use E95NN/W95NN: the aws-quickstart pack (qs-cfn-lint-rules) uses
E9007-E9010, E9101, E9902-E9904, W9001-W9006, W9901 and W9932, and cfn-lint's
own rules stay below E9000. E9590-E9599/W9590-W9599 are kept for job-fit rules.

Until the next release an ``ignore_checks`` entry (command line, .cfnlintrc or
template Metadata) that names an old id E90NN/W90NN also ignores the rule now
numbered E95NN/W95NN, with a deprecation note on stderr. Old ids that the
Quick Start pack also uses are not honoured: they are the clash the move ends
(a Quick Start template silencing the pack's W9003 must not silence cfgen's).
"""

from __future__ import annotations

import sys

#: Ids of the aws-quickstart cfn-lint rule pack (qs-cfn-lint-rules).
QUICKSTART_IDS = frozenset(
    {
        *(f"E{n}" for n in range(9007, 9011)),
        "E9101",
        *(f"E{n}" for n in range(9902, 9905)),
        *(f"W{n}" for n in range(9001, 9007)),
        "W9901",
        "W9932",
    }
)
#: Reserved for the job-fit (preflight) rules.
RESERVED = frozenset(f"{s}{n}" for s in "EW" for n in range(9590, 9600))

_warned: set[str] = set()


def old_id(rule_id: str) -> str | None:
    """E95NN -> E90NN (the id the rule had before the move); None for other ids."""
    if len(rule_id) == 5 and rule_id[1:3] == "95" and rule_id not in RESERVED:
        return f"{rule_id[0]}90{rule_id[3:]}"
    return None


def new_id(old: str) -> str | None:
    """E90NN -> E95NN; None for ids that are not an old cfgen id."""
    if len(old) == 5 and old[0] in "EWI" and old[1:3] == "90" and old[3:].isdigit():
        return f"{old[0]}95{old[3:]}"
    return None


def ignored_by_old_id(rule_id: str, ignore_rules: list[str]) -> bool:
    """True when an ignore entry names ``rule_id``'s old id (or a prefix of it)."""
    old = old_id(rule_id)
    if old is None:
        return False
    for entry in ignore_rules:
        if not entry or entry in QUICKSTART_IDS or not old.startswith(entry):
            continue
        if len(entry) < 3 or not entry[1:].startswith("90"[: len(entry) - 1]):
            continue  # "E" or "W9" already match the new id the ordinary way
        if entry not in _warned:
            _warned.add(entry)
            print(
                f"cfgen lint: ignore_checks {entry} names an old cfgen rule id; "
                f"{old} is now {rule_id} (old ids are accepted until the next release)",
                file=sys.stderr,
            )
        return True
    return False
