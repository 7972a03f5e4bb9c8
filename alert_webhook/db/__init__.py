"""The store's infrastructure, shared by every feature and importing none: the
engine (`engine.py`), tables (`schema.py`), upgrades of an older store
(`upgrade.py`), transactions and StoreUnavailable (`transactions.py`), bulk
statements (`bulk.py`) and the lease every work table uses (`lease.py`)."""
