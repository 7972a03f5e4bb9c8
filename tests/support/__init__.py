"""Helpers the tests share: free ports, binaries, real processes that always stop."""
