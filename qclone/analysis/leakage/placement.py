"""Where the qubits of an encrypted-cloning instance are kept: which party holds which qubits.

A :class:`Placement` maps party names to the labels of the qubits they hold
(``A``, ``S<j>``, ``N<j>``). Files and built-in policies may use patterns that
are expanded for a given n by :meth:`Placement.resolve`:

* ``S*`` / ``N*``: every clone / every key qubit;
* ``S1..S3`` (or ``S1-S3``): a range.

A placement may also name its *intended* coalitions: groups of parties meant
to be able to recover the state. Without them, the protocol's own access
structure is intended (see :func:`qclone.analysis.leakage.audit.audit_placement`).

File format (YAML or JSON)::

    name: three providers      # optional
    clones: 3                  # optional; must match the audited n
    parties:
      provider-1: [S1]
      provider-2: [S2]
      provider-3: [S3]
      vault: [N*]
      client: [A]
    intended:                  # optional
      - [vault, provider-1]

Examples:
    >>> p = builtin_placement("providers", 3)
    >>> dict(p.parties)["vault"] == frozenset({"N1", "N2", "N3"}), p.party_names[:2]
    (True, ('provider-1', 'provider-2'))
    >>> Placement.from_dict({"parties": {"a": "S*", "b": ["N1..N2"]}}).resolve(2).holder_of("N2")
    'b'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from qclone.analysis.leakage.stages import check_protocol_label
from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.protocol import Layout
from qclone.protocol.layout import check_clones

_RANGE = re.compile(r"\s*([SNsn])\s*_?(\d+)\s*(?:\.\.|-)\s*(?:[SNsn]\s*_?)?(\d+)\s*")
_WILDCARD = re.compile(r"\s*([SNsn])\s*_?\*\s*")
_FILE_KEYS = {"name", "clones", "parties", "intended", "description"}


def expand_label(pattern: str, clones: int) -> tuple[str, ...]:
    """The labels a pattern stands for with n clones (validated).

    Examples:
        >>> expand_label("N*", 3), expand_label("s2..s3", 3), expand_label("a", 3)
        (('N1', 'N2', 'N3'), ('S2', 'S3'), ('A',))
    """
    check_clones(clones)
    if not isinstance(pattern, str):
        raise InvalidArgumentError(f"a qubit is given by a label such as 'S1', got {pattern!r}")
    wild = _WILDCARD.fullmatch(pattern)
    if wild:
        letter = wild.group(1).upper()
        return tuple(f"{letter}{j}" for j in range(1, clones + 1))
    rng = _RANGE.fullmatch(pattern)
    if rng:
        letter, lo, hi = rng.group(1).upper(), int(rng.group(2)), int(rng.group(3))
        if not 1 <= lo <= hi <= clones:
            raise InvalidArgumentError(f"range {pattern!r} must lie within {letter}1..{letter}{clones}, low end first")
        return tuple(f"{letter}{j}" for j in range(lo, hi + 1))
    return (check_protocol_label(clones, pattern),)


@dataclass(frozen=True, eq=False)
class Placement:
    """Which party holds which qubits.

    Args:
        parties: party name -> labels (or patterns) of the qubits it holds.
            Order is kept (it orders coalitions in reports).
        intended: coalitions (sets of party names) meant to recover the state;
            empty means "the protocol's access structure".
        name: a name for reports.

    Raises:
        InvalidArgumentError: for an empty or malformed placement, a party
            without a name, an intended coalition naming an unknown party.
    """

    parties: Mapping[str, frozenset[str]]
    intended: tuple[frozenset[str], ...] = ()
    name: str = ""
    resolved_for: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.parties, Mapping) or not self.parties:
            raise InvalidArgumentError("a placement needs at least one party (a mapping: party name -> qubits)")
        parties: dict[str, frozenset[str]] = {}
        for name, held in self.parties.items():
            party = str(name).strip()
            if not party:
                raise InvalidArgumentError("a party needs a non-empty name")
            if party in parties:
                raise InvalidArgumentError(f"party {party!r} is listed twice")
            parties[party] = frozenset(_as_labels(held, party))
        intended = []
        for coalition in self.intended:
            members = frozenset(_as_labels(coalition, "an intended coalition"))
            unknown = sorted(members - parties.keys())
            if not members or unknown:
                raise InvalidArgumentError(f"intended coalition {sorted(members)} names unknown parties {unknown}; "
                                           f"the parties are {', '.join(parties)}")
            intended.append(members)
        object.__setattr__(self, "parties", MappingProxyType(parties))
        object.__setattr__(self, "intended", tuple(intended))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Placement):
            return NotImplemented
        return (dict(self.parties), self.intended, self.name) == (dict(other.parties), other.intended, other.name)

    def __hash__(self) -> int:
        return hash((tuple(self.parties.items()), self.intended, self.name))

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(self.parties)

    def resolve(self, clones: int) -> Placement:
        """The placement for n clones: patterns expanded, labels checked, no qubit held twice.

        Raises:
            InvalidArgumentError: for an unknown label or a qubit held by two parties.
        """
        n = check_clones(clones)
        if self.resolved_for is not None and self.resolved_for != n:
            raise InvalidArgumentError(f"placement {self.name or ''!r} is written for n = {self.resolved_for} clones, not n = {n}")
        holder: dict[str, str] = {}
        parties: dict[str, frozenset[str]] = {}
        for party, held in self.parties.items():
            labels: set[str] = set()
            for pattern in sorted(held):
                for label in expand_label(pattern, n):
                    if label in holder and holder[label] != party:
                        raise InvalidArgumentError(f"qubit {label} is held by both {holder[label]!r} and {party!r}; "
                                                   "a qubit can only be in one place")
                    holder[label] = party
                    labels.add(label)
            parties[party] = frozenset(labels)
        return Placement(parties, self.intended, self.name, resolved_for=n)

    def holder_of(self, label: str) -> str | None:
        """The party holding qubit ``label`` (None if nobody does)."""
        for party, held in self.parties.items():
            if label in held:
                return party
        return None

    def qubits_of(self, coalition: Iterable[str]) -> frozenset[str]:
        """Every qubit held by the parties of ``coalition``."""
        out: set[str] = set()
        for party in coalition:
            if party not in self.parties:
                raise InvalidArgumentError(f"unknown party {party!r}; the parties are {', '.join(self.parties)}")
            out |= self.parties[party]
        return frozenset(out)

    def to_dict(self) -> dict[str, Any]:
        order = {label: i for i, label in enumerate(Layout(self.resolved_for).labels)} if self.resolved_for else {}
        return {
            "name": self.name,
            "parties": {p: sorted(h, key=lambda x: (order.get(x, len(order)), x)) for p, h in self.parties.items()},
            "intended": [sorted(c) for c in self.intended],
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "placement") -> Placement:
        """A placement from parsed YAML/JSON (see the module docstring for the keys)."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(f"{source}: expected a mapping with a 'parties' key, got {type(data).__name__}")
        unknown = sorted(set(map(str, data)) - _FILE_KEYS)
        if unknown:
            raise InvalidArgumentError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FILE_KEYS))}")
        if "parties" not in data:
            raise InvalidArgumentError(f"{source}: missing 'parties' (party name -> list of qubits)")
        parties = data["parties"]
        if not isinstance(parties, Mapping):
            raise InvalidArgumentError(f"{source}: 'parties' must map party names to lists of qubits")
        intended = data.get("intended") or []
        if not isinstance(intended, list):
            raise InvalidArgumentError(f"{source}: 'intended' must be a list of coalitions (lists of party names)")
        clones = data.get("clones")
        placement = cls(parties, tuple(intended), str(data.get("name") or source))
        if clones is not None:
            placement = placement.resolve(check_clones(clones))
        return placement


def _as_labels(held: Any, owner: str) -> list[str]:
    if isinstance(held, str):
        items = [x for x in re.split(r"[,\s]+", held) if x]
    elif isinstance(held, Iterable) and not isinstance(held, (bytes, Mapping)):
        items = list(held)
    elif held is None:
        items = []
    else:
        raise InvalidArgumentError(f"{owner}: expected a list of qubit labels, got {held!r}")
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidArgumentError(f"{owner}: expected qubit labels such as 'S1', got {item!r}")
    return [item.strip() for item in items]


#: Largest YAML/JSON document a user's file may hold (bytes).
MAX_DOCUMENT_BYTES = 1_000_000


def yaml_error_line(e: BaseException) -> str:
    """A YAML parse error in one short line: what is wrong and where (line and column, 1-based)."""
    problem = getattr(e, "problem", None) or getattr(e, "context", None) or "not valid YAML"
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{' '.join(str(problem).split())}{where}"


def read_document(path: str | Path, what: str) -> Any:
    """Parse a YAML (or JSON, by the ``.json`` suffix) file a user names, with a size budget.

    Raises:
        InvalidArgumentError: the file is missing, a directory, unreadable or malformed (one line).
        TooLargeError: the file is larger than :data:`MAX_DOCUMENT_BYTES`.
    """
    p = Path(path)
    if p.is_dir():
        raise InvalidArgumentError(f"{what} file {str(p)!r} is a directory")
    try:
        if p.stat().st_size > MAX_DOCUMENT_BYTES:
            raise TooLargeError(f"{what} file {p.name!r} is larger than {MAX_DOCUMENT_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArgumentError(f"{what} file {str(p)!r} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgumentError(f"cannot read {what} file {str(p)!r}: {type(e).__name__}") from None
    try:
        return json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise InvalidArgumentError(f"{p.name}: not valid JSON (line {e.lineno}, column {e.colno})") from None
    except yaml.YAMLError as e:
        raise InvalidArgumentError(f"{p.name}: not valid YAML: {yaml_error_line(e)}") from None


def load_placement(path: str | Path) -> Placement:
    """Read a placement from a YAML (``.yaml``, ``.yml``) or JSON (``.json``) file.

    Other suffixes are read as YAML, of which JSON is a subset.

    Raises:
        InvalidArgumentError: if the file is missing, unreadable or malformed.
    """
    p = Path(path)
    data = read_document(p, "placement")
    placement = Placement.from_dict(data, source=p.name)
    if not placement.name or placement.name == p.name:
        placement = Placement(placement.parties, placement.intended, p.stem, resolved_for=placement.resolved_for)
    return placement


# --- built-in policies ---------------------------------------------------------------------


def _providers(n: int) -> dict[str, list[str]]:
    parties: dict[str, list[str]] = {f"provider-{j}": [f"S{j}"] for j in range(1, n + 1)}
    parties["vault"] = [f"N{j}" for j in range(1, n + 1)]
    parties["client"] = ["A"]
    return parties


def _providers_without_client(n: int) -> dict[str, list[str]]:
    parties = _providers(n)
    del parties["client"]
    return parties


def split_key_blocks(n: int, vaults: int) -> tuple[tuple[str, ...], ...]:
    """The key of ``split-key:V``: N_1..N_n in V contiguous blocks, vault i holding the i-th
    (the same layout for ``qclone audit``, ``qclone storage plan`` and ``qclone put``).

    Examples:
        >>> split_key_blocks(5, 2)
        (('N1', 'N2'), ('N3', 'N4', 'N5'))
    """
    check_clones(n)
    if not is_int(vaults) or not 2 <= vaults <= n:
        raise InvalidArgumentError(f"split-key:V splits the n = {n} key qubits over V vaults: 2 <= V <= n, got V = {vaults}")
    return tuple(tuple(f"N{j}" for j in range(i * n // vaults + 1, (i + 1) * n // vaults + 1)) for i in range(vaults))


def split_key_vaults(i: int) -> str:
    """The name of the i-th vault (from 0) of a split key: ``vault``, ``vault-2``, ``vault-3``, ..."""
    return "vault" if i == 0 else f"vault-{i + 1}"


def _split_key(n: int, vaults: int = 2) -> dict[str, list[str]]:
    parties: dict[str, list[str]] = {f"provider-{j}": [f"S{j}"] for j in range(1, n + 1)}
    parties.update({split_key_vaults(i): list(block) for i, block in enumerate(split_key_blocks(n, vaults))})
    return parties


def _keep_a(n: int) -> dict[str, list[str]]:
    parties = _providers_without_client(n)
    parties["custodian"] = ["A"]
    return parties


def _paired(n: int) -> dict[str, list[str]]:
    parties: dict[str, list[str]] = {f"provider-{j}": [f"S{j}", f"N{j}"] for j in range(1, n + 1)}
    parties["client"] = ["A"]
    return parties


#: Built-in policies: name -> (description, parties for n clones). ``today``, ``keep-A`` and
#: ``split-key`` are the storage service's placements (``qclone put --placement``), party for party.
BUILTIN_POLICIES: dict[str, tuple[str, Callable[[int], dict[str, list[str]]]]] = {
    "today": ("provider-j holds S_j, the vault holds the key N_1..N_n, A is discarded (the service's default)",
              _providers_without_client),
    "keep-A": ("as 'today', and a custodian keeps A", _keep_a),
    "split-key": ("provider-j holds S_j, the key is split in contiguous blocks over 2 vaults (vault, vault-2; "
                  "split-key:V for V vaults), A is discarded", _split_key),
    "providers": ("provider-j holds clone S_j, the vault holds the key N_1..N_n, the client keeps A", _providers),
    "providers-without-client": ("as 'providers', but A is discarded after encryption (the same layout as 'today')",
                                 _providers_without_client),
    "paired": ("provider-j holds the pair S_j and N_j, the client keeps A", _paired),
}


def is_builtin_name(name: str) -> bool:
    """A built-in policy name, ``split-key:V`` included."""
    return name in BUILTIN_POLICIES or name.startswith("split-key:")


def builtin_placement(name: str, clones: int) -> Placement:
    """A built-in placement policy for n clones (see :data:`BUILTIN_POLICIES`; ``split-key:V``
    splits the key over V vaults).

    Raises:
        InvalidArgumentError: for an unknown policy name (the message lists them).
    """
    n = check_clones(clones)
    if name.startswith("split-key:"):
        try:
            vaults = int(name.split(":", 1)[1])
        except ValueError:
            raise InvalidArgumentError(f"split-key:V takes a number of vaults V >= 2, got {name!r}") from None
        return Placement({party: frozenset(held) for party, held in _split_key(n, vaults).items()}, name=name).resolve(n)
    try:
        _, build = BUILTIN_POLICIES[name]
    except KeyError:
        raise InvalidArgumentError(f"unknown placement policy {name!r}; built-in policies: {', '.join(BUILTIN_POLICIES)}, "
                                   "split-key:V") from None
    return Placement({party: frozenset(held) for party, held in build(n).items()}, name=name).resolve(n)


def placement_from_option(value: str, clones: int) -> Placement:
    """A placement from a CLI value: an existing file, else a built-in policy name."""
    p = Path(value)
    if p.is_file():
        return load_placement(p).resolve(clones)
    if is_builtin_name(value):
        return builtin_placement(value, clones)
    if p.suffix.lower() in {".yaml", ".yml", ".json"} or "/" in value:
        raise InvalidArgumentError(f"placement file {value!r} not found")
    raise InvalidArgumentError(f"{value!r} is neither a placement file nor a built-in policy ({', '.join(BUILTIN_POLICIES)}, "
                               "split-key:V)")
