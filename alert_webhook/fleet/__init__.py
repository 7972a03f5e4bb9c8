"""The fleet: the Ansible inventory that lists the hosts, the host an alert names,
the executor that reaches it (ansible-runner) and the fleet-wide breaker."""
