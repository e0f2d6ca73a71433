"""The DVC stages' work: ingest, validate, curate, evaluate, and the stage runner."""
