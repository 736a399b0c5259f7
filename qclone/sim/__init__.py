"""Simulation engines behind one small interface, chosen by name (:func:`get_engine`)."""

from qclone.sim.engine import Engine, SimState, engine_names, get_engine, register_engine
from qclone.sim.exact import DensityMatrix, ExactEngine, StateVector

register_engine("exact", ExactEngine)

__all__ = ["Engine", "SimState", "engine_names", "get_engine", "register_engine", "DensityMatrix", "ExactEngine", "StateVector"]
