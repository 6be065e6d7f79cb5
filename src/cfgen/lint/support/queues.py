"""Shared by the queues rules (src/cfgen/lint/rules/queues/)."""

from __future__ import annotations

JQ_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html"
ORDER_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeEnvironmentOrder.html"
