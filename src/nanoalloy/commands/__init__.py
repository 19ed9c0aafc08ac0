"""Sub-commands of the ``nanoalloy`` CLI, one module each (see :mod:`nanoalloy.cli`)."""
