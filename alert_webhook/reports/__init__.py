"""What the record teaches: the improvement metrics (recovery time, success rate,
MTBF, automation) read from the store at scrape time (`recovery.py`,
`improvement.py`)."""
