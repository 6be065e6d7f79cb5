"""Spot-safe AWS Batch job harness.

Streams S3 objects through a task function, checkpoints progress in S3, stops
cleanly on SIGTERM, and commits each shard's output exactly once. See README.md.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
