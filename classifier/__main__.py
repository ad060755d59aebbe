"""`python -m classifier` runs the `ciocto` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="ciocto")
