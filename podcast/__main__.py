"""``python -m podcast``: the same command as the ``podcast`` console script."""

from podcast.cli import main

main(prog_name="podcast")
