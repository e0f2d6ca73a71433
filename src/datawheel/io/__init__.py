"""Files, git and DVC: what datawheel reads and writes, and nothing of datawheel above it."""
