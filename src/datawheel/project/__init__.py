"""A datawheel project on disk: the template `datawheel init` writes, git and DVC set up."""
