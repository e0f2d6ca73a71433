"""`python -m datawheel` is the `datawheel` command."""

from datawheel.cli.app import main

main()
