"""The chemistry ground floor: elements, ligands, notation and isotope patterns.

Imports nothing of nanoalloy but :mod:`nanoalloy.errors`.
"""

__all__: list[str] = []
