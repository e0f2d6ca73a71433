"""Command groups beyond the core ones; each module has `register(app)` adding its commands."""
