"""The sync: its stages (plan, fetch, compute, persist, publish) and the one function that sequences
them, used by the CLI, the Prefect flow and backfill."""
