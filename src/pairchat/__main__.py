"""`python -m pairchat` runs the command line."""

from pairchat.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
