"""Per-principal state and online models that score window features."""
