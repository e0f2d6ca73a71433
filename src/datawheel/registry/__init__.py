"""The registry and promotion: the gate rule, the champion, GTO tags, promote and rollback."""
