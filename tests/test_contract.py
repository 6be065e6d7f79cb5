"""One contract (cfgen.contract): the generator, the scripts and the worker agree on it.

The worker is its own package, so it spells the same values; these tests prove
both sides equal, and that the rendered IAM grants cover exactly what the
worker writes (a prefix moved on one side fails here, not with AccessDenied on
AWS).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
from spotworker import config as worker_config
from spotworker import exitcodes

from cfgen import contract
from cfgen.config import list_profiles, load_profile
from cfgen.render import to_data

ROOT = Path(__file__).resolve().parents[1]


def _worker_default(name: str) -> Any:
    field = next(f for f in dataclasses.fields(worker_config.Config) if f.name == name)
    return field.default


#: The worker's Config fields for each prefix it reads or writes.
WORKER_PREFIX_FIELDS = {
    contract.INPUT: "input_prefix",
    contract.OUTPUT: "output_prefix",
    contract.CHECKPOINTS: "checkpoint_prefix",
    contract.DEADLETTER: "deadletter_prefix",
    contract.LEDGER: "ledger_prefix",
}


def test_worker_prefix_defaults_and_variables_are_the_contract() -> None:
    source = (ROOT / "worker/src/spotworker/config.py").read_text(encoding="utf-8")
    for prefix, field in WORKER_PREFIX_FIELDS.items():
        assert _worker_default(field) == prefix.key, field
        # The worker reads the variable the job definition sets.
        assert f'"{prefix.env}"' in source, prefix.env
    for env in (contract.ENV_DATA_BUCKET, contract.ENV_GRACE_SECONDS, contract.ENV_ARRAY_SIZE):
        assert f'"{env}"' in source, env


def test_worker_ledger_format_is_the_contract() -> None:
    from spotworker import ledger

    assert ledger.FORMAT == contract.LEDGER_FORMAT


def test_worker_exit_codes_are_the_contract() -> None:
    assert exitcodes.SUCCESS == contract.EXIT_SUCCESS
    assert exitcodes.TRANSIENT == contract.EXIT_TRANSIENT
    assert exitcodes.INTERRUPTED == contract.EXIT_INTERRUPTED
    assert set(exitcodes.RETRYABLE) == set(contract.RETRIED_EXIT_CODES)


def test_worker_grace_default_fits_the_default_stop_timeout() -> None:
    stop = load_profile("default").job.stop_timeout_seconds
    assert _worker_default("grace_seconds") == stop - contract.GRACE_MARGIN


def _granted(policy_statements: list[dict[str, Any]], action: str) -> list[str]:
    """Object-key patterns (after the bucket ARN) a job-role action is allowed on."""
    patterns = []
    for s in policy_statements:
        if action not in s["Action"]:
            continue
        for resource in s["Resource"]:
            template = resource.get("Fn::Sub", [""])[0] if isinstance(resource, dict) else ""
            if template.startswith("${Bucket}/"):
                patterns.append(template.removeprefix("${Bucket}/"))
    return patterns


def _job_role_statements(data: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = data["Resources"]["JobRole"]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _allowed(patterns: list[str], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


@pytest.mark.parametrize("name", list_profiles())
def test_every_key_the_worker_writes_is_granted_and_input_is_read_only(name: str) -> None:
    statements = _job_role_statements(to_data(load_profile(name)))
    puts = _granted(statements, "s3:PutObject")
    gets = _granted(statements, "s3:GetObject")
    job = "3f2c9a1e-job"
    # Keys the worker writes, built from its own defaults (harness.py's layout).
    written = [
        f"{_worker_default('checkpoint_prefix')}{job}/shard-00001-of-00004.json",
        f"{_worker_default('output_prefix')}{job}/_commits/shard-00001-of-00004.json",
        f"{_worker_default('output_prefix')}{job}/shard-00001/part.jsonl",
        f"{_worker_default('deadletter_prefix')}{job}/shard-00001/part.jsonl",
        f"{_worker_default('output_prefix')}{job}/result.jsonl",
    ]
    for key in written:
        assert _allowed(puts, key), f"the job role cannot write {key}: AccessDenied on AWS"
        assert _allowed(gets, key), f"the job role cannot read back {key}"
    # The cost ledger (spotworker.ledger): written once per attempt, never read by a job.
    ledger = f"{_worker_default('ledger_prefix')}{job}/3/2.json"
    assert _allowed(puts, ledger) and not _allowed(gets, ledger)
    assert _allowed(gets, f"{_worker_default('input_prefix')}data/part-0001.jsonl")
    assert not _allowed(puts, f"{_worker_default('input_prefix')}data/part-0001.jsonl")
    assert not _allowed(puts, "elsewhere/x") and not _allowed(gets, "elsewhere/x")
    # Exactly the contract's writable prefixes, nothing the worker never writes.
    assert sorted(puts) == sorted(p + "*" for p in contract.WRITE_PREFIXES)


@pytest.mark.parametrize("name", list_profiles())
def test_lifecycle_days_follow_the_profile(name: str) -> None:
    profile = load_profile(name)
    bucket = to_data(profile)["Resources"]["DataBucket"]["Properties"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-checkpoints"]["Prefix"] == contract.CHECKPOINTS.key
    assert (
        rules["expire-checkpoints"]["ExpirationInDays"]
        == profile.storage.checkpoint_expiration_days
    )
    assert rules["expire-ledger"]["Prefix"] == contract.LEDGER.key
    assert rules["expire-ledger"]["ExpirationInDays"] == contract.LEDGER_EXPIRATION_DAYS
    # Ledger records outlive a year's report and the month before it.
    assert contract.LEDGER_EXPIRATION_DAYS > 365 + 31
    # Checkpoints must outlive any attempt (a late retry would start over).
    assert profile.storage.checkpoint_expiration_days * 86400 > profile.job.timeout_seconds


@pytest.mark.parametrize("name", list_profiles())
def test_job_definition_sets_every_contract_variable(name: str) -> None:
    jd = to_data(load_profile(name))["Resources"]["WorkerJobDefinition"]["Properties"]
    env = {e["Name"]: e["Value"] for e in jd["ContainerProperties"]["Environment"]}
    for prefix in contract.PREFIXES:
        assert env[prefix.env] == prefix.key
    assert env[contract.ENV_TMPDIR] == contract.SCRATCH_PATH
    assert contract.ENV_DATA_BUCKET in env and contract.ENV_GRACE_SECONDS in env


def test_scripts_read_only_outputs_the_contract_names() -> None:
    used: set[str] = set()
    for script in (ROOT / "scripts").glob("*.sh"):
        text = script.read_text(encoding="utf-8")
        for call in re.findall(r"stack_outputs? \"\$\w+\" ([A-Za-z ]+)", text):
            used.update(call.split())
        used.update(re.findall(r"OutputKey=='([A-Za-z]+)'", text))
    assert used, "no stack output read found in scripts/ (pattern out of date?)"
    known = set(contract.OUTPUTS) | set(contract.OPTIONAL_OUTPUTS)
    assert used <= known, used - known


@pytest.mark.parametrize("name", list_profiles())
def test_every_contract_output_is_rendered(name: str) -> None:
    outputs = to_data(load_profile(name))["Outputs"]
    assert set(contract.OUTPUTS) <= set(outputs)


def test_worker_metrics_are_the_contract() -> None:
    from spotworker import metrics

    assert metrics.NAMESPACE == contract.WORKER_METRICS_NAMESPACE
    assert metrics.DIMENSION == contract.METRIC_DIMENSION_QUEUE
    assert metrics.ENV_JOB_QUEUE == contract.ENV_JOB_QUEUE_NAME
    assert metrics.UNITS == contract.WORKER_METRIC_UNITS
    source = (ROOT / "worker/src/spotworker/config.py").read_text(encoding="utf-8")
    assert f'"{contract.ENV_JOB_QUEUE_NAME}"' in source
