"""Use-cases: one module per workflow. Each applies the domain rules through ports and owns its transaction."""
