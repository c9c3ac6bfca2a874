"""``python -m api.cli``: the ``cocred`` command line."""

from api.cli import main

if __name__ == "__main__":
    main()
