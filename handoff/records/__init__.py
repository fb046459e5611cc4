"""The hub's persistence, one module per kind of record (``handoff.store`` puts them together)."""
