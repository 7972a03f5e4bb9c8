"""The system exporter's collectors, one module per source, sharing `HostContext`."""
