"""Imports: principals, repositories and policies read from where they live (Terraform plans,
CloudFormation templates, ``aws iam get-account-authorization-details``, ``aws organizations
describe-policy``), each value with its place in the source file."""
