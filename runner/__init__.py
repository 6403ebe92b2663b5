"""pytest-policyspec: declarative, offline tests for AWS access policies (Amazon ECR first)."""

__version__ = "0.1.0"
