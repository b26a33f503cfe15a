"""smokegate: a pytest suite that gates deploys on health, auth, TLS and AWS IAM rules."""

__version__ = "0.1.0"
