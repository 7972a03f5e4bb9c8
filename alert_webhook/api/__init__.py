"""Blueprints: ingest (`POST /alerts`), health, and the JSON API."""
