"""Spot-safe AWS Batch job harness."""
