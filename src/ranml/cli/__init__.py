"""The ``ranml`` command line: one module per command group, composed in :mod:`ranml.cli.app`."""
