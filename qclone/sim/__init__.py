"""Simulation engines behind one small interface, chosen by name (:func:`get_engine`)."""

from qclone.sim.engine import Engine, SimState, engine_names, get_engine, register_engine
from qclone.sim.exact import DensityMatrix, ExactEngine, StateVector
from qclone.sim.stabilizer import StabilizerEngine

register_engine("exact", ExactEngine)
register_engine("stabilizer", StabilizerEngine)

from qclone.sim.core import CoreEngine, CoreState  # noqa: E402 - the core engine builds on gf2 and exact above

register_engine("core", CoreEngine)

__all__ = ["Engine", "SimState", "engine_names", "get_engine", "register_engine", "DensityMatrix", "ExactEngine", "StateVector", "StabilizerEngine", "CoreEngine", "CoreState"]
