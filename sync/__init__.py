"""The sync engine: wire protocol, hybrid logical clocks, merge rules, push/pull, stores."""
