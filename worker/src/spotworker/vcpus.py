"""How many worker processes: the vCPUs the job reserved, or CFGEN_PROCESSES.

Inside an ECS task (every Batch job: the ECS agent sets
``ECS_CONTAINER_METADATA_URI_V4``), the task metadata endpoint v4 tells the
reservation: ``${ECS_CONTAINER_METADATA_URI_V4}`` returns the container's
``Limits.CPU`` in CPU units (1,024 per vCPU), ``.../task`` the task's
``Limits.CPU`` in vCPUs (omitted when no task-level limit is set)
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html).
A Batch job's VCPU requirement becomes the container's CPU shares on EC2,
1,024 per vCPU (https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html):
a relative weight, not a hard limit, so the container may see every CPU of
the host; the worker uses what it reserved, never more than it can see
(``os.sched_getaffinity``). Outside ECS (a local run), one process. A
metadata endpoint that does not answer is not fatal: one process, and a
``processes`` event says why.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from spotworker.config import Config

CPU_UNITS_PER_VCPU = 1024


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - the ECS agent's http endpoint
        return json.loads(resp.read(1 << 20))


def cpus_visible() -> int:
    """The CPUs this process may run on (its affinity), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_processes(cfg: Config) -> tuple[int, dict[str, Any]]:
    """(processes, details for the ``processes`` event)."""
    visible = cpus_visible()
    if cfg.processes is not None:
        return cfg.processes, {"source": "CFGEN_PROCESSES", "cpus_visible": visible}
    uri = cfg.ecs_metadata_uri.rstrip("/")
    if not uri:
        return 1, {"source": "default (not in an ECS task)", "cpus_visible": visible}
    vcpus: float | None = None
    source = ""
    try:
        units = (_get(uri).get("Limits") or {}).get("CPU")
        if isinstance(units, int | float) and units > 0:
            vcpus, source = units / CPU_UNITS_PER_VCPU, "container Limits.CPU (CPU units)"
        else:
            task_cpu = (_get(f"{uri}/task").get("Limits") or {}).get("CPU")
            if isinstance(task_cpu, int | float) and task_cpu > 0:
                vcpus, source = float(task_cpu), "task Limits.CPU (vCPUs)"
    except (OSError, ValueError, AttributeError) as exc:
        return 1, {
            "source": "default (task metadata unavailable)",
            "error": type(exc).__name__,
            "cpus_visible": visible,
        }
    if vcpus is None:
        return 1, {"source": "default (no CPU limit in the task metadata)", "cpus_visible": visible}
    processes = max(1, min(int(vcpus), visible))
    return processes, {"source": source, "vcpus": vcpus, "cpus_visible": visible}
