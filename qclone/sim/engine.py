"""The one small interface every simulation engine offers, and the registry of engines by name.

An engine turns a :class:`~qclone.protocol.Circuit` (plus, where it can, an
initial state) into a :class:`SimState` that answers questions about subsets
of qubits: reduced density matrices, entropies, mutual information. Engines
register themselves under a name; callers choose one with :func:`get_engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import Circuit


@runtime_checkable
class SimState(Protocol):
    num_qubits: int

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray: ...

    def entropy(self, qubits: Sequence[int]) -> float: ...

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float: ...


class Engine(Protocol):
    name: str
    #: Largest number of qubits the engine simulates (None: no fixed limit).
    max_qubits: int | None

    def simulate(self, circuit: Circuit, *, initial: np.ndarray | None = None) -> SimState: ...


_ENGINES: dict[str, Callable[[], Engine]] = {}


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    _ENGINES[name] = factory


def engine_names() -> tuple[str, ...]:
    return tuple(sorted(_ENGINES))


def get_engine(name: str) -> Engine:
    """The engine registered as ``name`` (e.g. ``"exact"``).

    Examples:
        >>> get_engine("exact").name
        'exact'
    """
    try:
        return _ENGINES[name]()
    except KeyError:
        raise InvalidArgumentError(f"unknown engine {name!r}; choose one of {', '.join(engine_names())}") from None
