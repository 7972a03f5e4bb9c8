"""The app's Prometheus registry and its instruments (`registry.py`); each app and
test owns one."""
