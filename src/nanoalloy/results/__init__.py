"""Results: figures, the self-contained report and series over feed ratio or time.

Imports :mod:`nanoalloy.ms`, :mod:`nanoalloy.kinetics` and :mod:`nanoalloy.uvvis`, never the
reverse. Inside, ``figures`` < ``report`` < ``series``.
"""

__all__: list[str] = []
