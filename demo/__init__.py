"""The demo service: a small business API that stands in for the plan's services."""
