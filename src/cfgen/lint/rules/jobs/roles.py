# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""W9538: jobs rules (roles)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import jobs as sup


class JobRoleWithExecutionPermissions(base.BatchRule):
    id = "W9538"
    shortdesc = "Job role carries task-execution permissions"
    description = (
        "The job role is what the job's code may do; pulling images and writing logs "
        "belongs to the execution role. A job role with AmazonECSTaskExecutionRolePolicy "
        "or ECR pull permissions (or the same role as ExecutionRoleArn) conflates the two. "
        "Reported once per pairing of job role and execution role."
    )
    source_url = sup.EXEC_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "iam"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        pairs: set[tuple[str, str | None]] = set()
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in sup.containers(jd):
                role = m.target(c.get("JobRoleArn"))
                execution = m.target(c.get("ExecutionRoleArn"))
                if role is None or (role, execution) in pairs:
                    continue  # one finding per (job role, execution role) pairing
                pairs.add((role, execution))
                path = mdl.res_path(jd.logical_id, *where, "JobRoleArn")
                if execution == role:
                    out.add(path, f"JobRoleArn and ExecutionRoleArn are the same role {role}")
                    continue
                found = sup.has_exec_permissions(m, role)
                if found:
                    out.add(path, f"Job role {role} carries task-execution permission {found}")
