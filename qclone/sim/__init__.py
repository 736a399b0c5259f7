"""Simulation engines behind one interface (:class:`~qclone.sim.engine.Engine`), by name in :data:`ENGINES`."""

from qclone.sim.core import CoreEngine, CoreState
from qclone.sim.engine import CORE, DENSE, ENGINES, HEISENBERG, STABILIZER, Engine, HeisenbergEngine, SimState, get_engine
from qclone.sim.exact import DenseEngine, DensityMatrix, StateVector
from qclone.sim.stabilizer import StabilizerEngine

__all__ = [
    "CORE", "DENSE", "ENGINES", "HEISENBERG", "STABILIZER", "Engine", "SimState", "get_engine",
    "CoreEngine", "CoreState", "DenseEngine", "DensityMatrix", "HeisenbergEngine", "StabilizerEngine", "StateVector",
]
