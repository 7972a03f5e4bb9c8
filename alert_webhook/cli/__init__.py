"""Command lines: `serve` (the webhook behind waitress, `front.py`, `startup.py`),
`user` (operator accounts, `operators.py`) and `incidents` (the terminal console)."""
