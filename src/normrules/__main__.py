"""``python -m normrules`` runs the command-line interface."""

from .cli import main

main()
