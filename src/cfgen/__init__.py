"""cfgen: generated CloudFormation templates for AWS Batch on EC2 Spot."""

__version__ = "0.1.0"
