"""The local stack behind `make up`: ports, binaries, rendered configs, supervisor."""
