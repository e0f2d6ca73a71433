"""The demo and the local workflow runner: the flywheel played day by day in a sandbox."""
