"""The `podcast` command at the top of the checkout (SPEC's layout): it lives in podcast.cli."""

from podcast.cli import main

if __name__ == "__main__":
    main(prog_name="podcast")
