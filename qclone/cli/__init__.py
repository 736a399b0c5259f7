"""Command-line interface (``qclone``)."""
