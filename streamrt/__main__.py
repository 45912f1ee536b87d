"""``python -m streamrt``: the ``streamrt`` command, for when the console script is not on PATH."""

from streamrt.cli import entry

if __name__ == "__main__":
    entry()
