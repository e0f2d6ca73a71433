"""`python -m datawheel` is the `datawheel` command."""

from datawheel.cli import main

main()
