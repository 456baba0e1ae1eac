"""The `domuchet` command: composes the tiers into processes (demo, nats, sim, edge, cloud, sql).
The one place allowed to import edge/, cloud/, ui/ and simulators/ together."""
