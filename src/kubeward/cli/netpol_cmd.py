"""CLI commands of this domain (filled in by its engine)."""

COMMANDS: list = []
