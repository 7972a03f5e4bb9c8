"""The demo service: a small business API that stands in for the recovery plan's services."""
