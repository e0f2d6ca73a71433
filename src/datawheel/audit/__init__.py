"""The audit: a model traced back to its data, code and params, and proven by rebuilding it."""
