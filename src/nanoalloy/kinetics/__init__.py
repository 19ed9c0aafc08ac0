"""Kinetic model of the Au44 + Ag44 inter-cluster alloying reaction.

A phenomenological, chemically motivated mass-action network (Lin, Cao, Yao & Xie, Chem. Sci.
2022, 13, 4598) that conserves Au, Ag, thiolate ligand (SR) and charge exactly, solved stiffly
with an analytic sparse Jacobian, with dosing schedules and fitting to measured time courses.

Species
-------
* ``M44S30[x]`` = [AuxAg44-x(SR)30]4- (18 e), ``M44S27[x]`` = [AuxAg44-x(SR)27]3- (20 e) and
  ``M44S26[x]`` = [AuxAg44-x(SR)26]2- (20 e), x = 0..44;
* ``Au(SR)2`` = [Au(SR)2]- and ``Ag(SR)2`` = [Ag(SR)2]- (the M(I)-SR complex pools);
* ``RS`` = free thiolate RS- and ``RSSR`` = disulfide, the redox and ligand buffer.

Every reaction is balanced; e.g. the decomposition of the Au44 parent reads
``[Au44(SR)26]2- + 42 RS- + 10 RSSR -> 44 [Au(SR)2]-`` (its 20 valence electrons reduce 10
disulfides). The processes and their assumptions are listed in :func:`build_network`.
Units: hours; concentrations in c0 (the cluster concentration of either stock solution).

Contents
--------
network
    Species, parameters (:func:`load_params`), :class:`Network`, :func:`build_network`.
simulation
    :func:`simulate`, :class:`SimulationResult`, :class:`Addition`, :func:`sweep`.
fit
    :func:`fit_timecourse`, :class:`FitResult`.
"""

from __future__ import annotations

from .fit import FIT_PROCESSES, FitResult, dump_params, fit_timecourse, read_timecourse
from .network import (
    CHARGE,
    FAMILIES,
    IAG,
    IAU,
    IRS,
    IRSSR,
    LIGANDS,
    NS,
    NX,
    PROCESSES,
    SPECIES_NAMES,
    Network,
    build_network,
    composition_matrix,
    load_params,
    merge_params,
)
from .simulation import (
    Addition,
    SimulationResult,
    parse_time,
    simulate,
    summarize_final,
    sweep,
)

__all__ = [
    "Addition",
    "CHARGE",
    "FAMILIES",
    "FIT_PROCESSES",
    "FitResult",
    "IAG",
    "IAU",
    "IRS",
    "IRSSR",
    "LIGANDS",
    "NS",
    "NX",
    "Network",
    "PROCESSES",
    "SPECIES_NAMES",
    "SimulationResult",
    "build_network",
    "composition_matrix",
    "dump_params",
    "fit_timecourse",
    "load_params",
    "merge_params",
    "parse_time",
    "read_timecourse",
    "simulate",
    "summarize_final",
    "sweep",
]
