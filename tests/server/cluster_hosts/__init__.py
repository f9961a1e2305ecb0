"""Helpers of tests/server/test_cluster_hosts.py: hosts as network namespaces, a PostgreSQL
primary with a streaming replica, nginx over the hosts."""
