"""The assign pipeline: one spectrum -> which cluster species are there, and how much of each.

Read :mod:`nanoalloy.ms.assign.pipeline` top to bottom for the whole flow; each step
lives in its own module:

instrument
    Resolving power of the data (isolated peaks, file metadata, valley depths).
candidates
    The preset's candidate library with isotope patterns; pruning against the spectrum;
    the structured fit problem (species, ion forms, groups).
design
    Rendered isotope columns and baseline on the decimated grid; one joint fit round.
calibration
    ``ppm(m) = a + b m``: coarse screen, walks, joint refinement, per-window errors.
priors
    Chemistry priors of the model selection (Na+ ladder, charge states, x smoothness,
    H bookkeeping), each switchable.
selection
    Model selection: parentless fragments, redundant families, detached species.
uncertainty
    Competing hypotheses (ambiguity groups with shares) and the abundance sd.
tables
    Species, ion and family tables of the final fit.
charges, ladders
    Charge states the preset does not list and Na+ ladders deeper than it allows:
    looked for after the fit, fitted where the data want them.
result
    :class:`Assignment` (tables, model, residual, calibration, plot, write).
"""

from __future__ import annotations

from .pipeline import assign
from .result import ION_COLUMNS, SPECIES_COLUMNS, Assignment

__all__ = ["Assignment", "ION_COLUMNS", "SPECIES_COLUMNS", "assign"]
