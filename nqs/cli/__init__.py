"""The ``nqs`` command-line interface (not imported by ``nqs`` itself)."""
