"""build_template(profile): the architecture, one add_* call per concern.

Order matters only where a concern needs another's refs; each dependency is an
argument, never a lookup by name.
"""

from __future__ import annotations

from troposphere import Template

from cfgen.compute import add_compute
from cfgen.config import Platform, Profile
from cfgen.dashboard import add_dashboard
from cfgen.ec2 import Architecture
from cfgen.endpoints import add_endpoints
from cfgen.escalation import add_escalation
from cfgen.iam import add_iam
from cfgen.jobs import add_jobs
from cfgen.monitoring import add_monitoring
from cfgen.network import add_network
from cfgen.outputs import add_outputs
from cfgen.parameters import add_parameters
from cfgen.queues import add_queues
from cfgen.storage import add_storage


def image_platform(cfg: Profile) -> str:
    """The image platform jobs run on: Fargate (Spot) runs x86_64 only here."""
    if cfg.compute.platform is Platform.FARGATE:
        return Architecture.X86_64.image_platform
    return cfg.compute.architecture.image_platform


def build_template(cfg: Profile) -> Template:
    ec2 = cfg.compute.platform is Platform.EC2
    t = Template(Description=f"cfgen {cfg.name}: {cfg.description}")
    t.set_version("2010-09-09")
    t.cfgen_profile = cfg  # render_template's header names the profile and its source

    params = add_parameters(t, cfg)
    network = add_network(t, cfg, params=params, ec2=ec2)
    storage = add_storage(t, cfg, params=params)
    add_endpoints(
        t,
        cfg,
        params=params,
        compute_security_group=network.security_group,
        data_bucket_arn=storage.bucket_arn,
    )
    roles = add_iam(
        t,
        cfg,
        ec2_platform=ec2,
        data_bucket_arn=storage.bucket_arn,
        repository_arn=storage.repository_arn,
        log_group_arn=storage.log_group_arn,
        pull_repository_arns=params.pull_repository_arns,
    )
    compute = add_compute(
        t, cfg, params=params, network=network, instance_profile_arn=roles.instance_profile_arn
    )
    queues = add_queues(t, cfg, params=params, compute=compute)
    jobs = add_jobs(
        t,
        cfg,
        params=params,
        storage=storage,
        job_role_arn=roles.job_role_arn,
        execution_role_arn=roles.execution_role_arn,
    )
    escalation = add_escalation(t, cfg, queues=queues, job_definition=jobs.job_definition)
    # The failure rule filters on this stack's queues.
    monitoring = add_monitoring(t, cfg, params=params, queues=queues.queues)
    add_dashboard(t, cfg, queues=queues.queues, log_group=storage.log_group)
    add_outputs(
        t,
        queues=queues,
        escalation=escalation,
        job_definition=jobs.job_definition,
        data_bucket=storage.bucket,
        repository=storage.repository,
        repository_uri=storage.repository_uri,
        log_group=storage.log_group,
        alert_topic=monitoring.topic,
        job_role_arn=roles.job_role_arn,
        compute=compute,
        image_platform=image_platform(cfg),
    )
    return t
