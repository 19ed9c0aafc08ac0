"""Mass spectra: the Spectrum record, readers and writers, peaks, presets and candidate
libraries, the joint fit, the assign pipeline (:mod:`nanoalloy.ms.assign`), synthetic
spectra and MS/MS ladders. Imports :mod:`nanoalloy.chem` and the base modules only.
"""

__all__: list[str] = []
