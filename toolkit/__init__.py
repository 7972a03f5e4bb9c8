"""Building blocks shared by `exporters/`, `alert_webhook/` and `stack/`.

Each is written once here so the three packages need not import one another
for them: configuration errors (`config`), SQLite's own checks and copies
(`sqlite`), and finding the Litestream and PostgreSQL programs (`programs`).
This package imports none of the three, nor anything heavier than pydantic
and PyYAML.
"""
