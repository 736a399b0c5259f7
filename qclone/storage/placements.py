"""Object placements: where every qubit of a stored object lives.

An object is ``k (2n + 1)`` qubits: the input qubits ``A``, the clones
``S_1 … S_n`` and the key qubits ``N_1 … N_n`` (each a k-qubit register). Its
*placement* says who holds each of them:

* the clones ``S_j`` are always at providers, one clone per provider, chosen by
  the provider-choice policy (``distinct-providers`` / ``distinct-zones``);
* the key qubits ``N_j`` and the input ``A`` are at *key holders*: the
  deployment's vault (holder ``vault``), more vaults, or a custodian (nodes like
  the vault, registered with ``qclone serve --holder KIND:ID``); ``A`` may also
  be held by nobody (it is discarded after the encryption, as in the protocol).

Built-in placements (:data:`BUILTIN_PLACEMENTS`):

* ``today`` (the default): the vault holds ``N_1 … N_n``, nobody keeps ``A``.
  Any one clone with the vault's key recovers the state; losing the vault loses
  every object.
* ``keep-A``: as ``today``, and a custodian keeps ``A``. The custodian together
  with *all* providers can recover without the vault: that is exactly why such
  an object survives the vault's loss (as long as every provider survives).
* ``split-key`` (``split-key:V``): the key is split over V vaults (all of them,
  by default), vault i holding a contiguous block of the ``N_j``; every plain
  decryption needs every vault.

A custom placement is a mapping (what ``qclone put --placement FILE`` reads from
a YAML or JSON file and sends; the service never reads a file)::

    name: two vaults and a custodian
    parties:
      vault: [N1..N2]
      vault-b: [N3..N4]
      custodian-1: [A]

Party names are ``vault`` or a registered holder's id; a party holding one clone
(``provider-1: [S1]``) may be listed and is ignored (clones go to providers), and so is
``intended`` (a file written for ``qclone audit`` can be used as it is): the service audits
every placement against the coalitions its own recoveries use
(:meth:`ObjectPlacement.intended`).
Labels and patterns are those of :mod:`qclone.analysis.leakage.placement`
(``A``, ``S3``, ``N*``, ``N1..N3``). The mapping is checked with budgets before
anything else (:data:`MAX_PARTIES`, :data:`MAX_LABELS`, :data:`MAX_TEXT`), and
a placement no recovery could serve (all holders together not authorized) is
refused with the algebra's reason.

Examples:
    >>> p = resolve_placement("keep-A", 4, {"vault": "vault", "c1": "custodian"})
    >>> p.name, p.keys
    ('keep-A', (('vault', ('N1', 'N2', 'N3', 'N4')), ('c1', ('A',))))
    >>> resolve_placement("split-key", 4, {"vault": "vault", "v2": "vault"}).keys
    (('vault', ('N1', 'N2')), ('v2', ('N3', 'N4')))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qclone.analysis.leakage import BUILTIN_POLICIES as AUDIT_POLICIES
from qclone.analysis.leakage import Placement, fewest_clones, is_builtin_name, split_key_blocks
from qclone.analysis.leakage.stages import protocol_analyzer
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout

__all__ = ["BUILTIN_PLACEMENTS", "DEFAULT_PLACEMENT", "MAX_LABELS", "MAX_PARTIES", "MAX_TEXT", "VAULT",
           "ObjectPlacement", "register_indices", "resolve_placement"]

#: The deployment's vault, as a holder.
VAULT = "vault"
#: Built-in placements: name -> what it does.
BUILTIN_PLACEMENTS = {
    "today": "the vault holds the key N_1..N_n; nobody keeps A",
    "keep-A": "the vault holds the key; a custodian keeps A (survives the vault's loss while every provider survives)",
    "split-key": "the key is split over V vaults (split-key:V; all vaults by default)",
}
DEFAULT_PLACEMENT = "today"
#: Budgets of a custom placement: parties, labels or patterns per party, characters per string.
MAX_PARTIES = 64
MAX_LABELS = 200
MAX_TEXT = 64
_HOLDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CUSTOM_KEYS = {"name", "clones", "parties", "description", "intended"}


@dataclass(frozen=True)
class ObjectPlacement:
    """Where an object's non-clone qubits live (the clones are at providers).

    Attributes:
        name: ``today``, ``keep-A``, ``split-key`` or the custom placement's name.
        clones: n.
        keys: ``(holder id, register labels)`` per key holder, in order; labels are ``A`` and
            ``N<j>`` (each a k-qubit register). The vault is the holder ``vault``.
    """

    name: str
    clones: int
    keys: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def holders(self) -> tuple[str, ...]:
        return tuple(h for h, _ in self.keys)

    @property
    def custodian_of_a(self) -> str | None:
        """The holder of ``A`` (None: nobody keeps it)."""
        return next((h for h, labels in self.keys if "A" in labels), None)

    def parties(self, providers: tuple[str, ...]) -> dict[str, frozenset[str]]:
        """Party -> register labels, provider ``providers[j-1]`` holding ``S_j``."""
        out: dict[str, frozenset[str]] = {p: frozenset({f"S{j}"}) for j, p in enumerate(providers, 1)}
        for holder, labels in self.keys:
            out[holder] = frozenset(labels)
        return out

    def intended(self, providers: tuple[str, ...]) -> tuple[frozenset[str], ...]:
        """The coalitions this placement means to recover: every plain decryption (the holders of
        the whole key with one clone; for even n also with ``A``) and, when ``A`` is kept, its
        holder with every provider (what lets the object survive the loss of the key)."""
        key_holders = frozenset(h for h, labels in self.keys if any(x.startswith("N") for x in labels))
        n = self.clones
        whole_key = {f"N{j}" for j in range(1, n + 1)} <= {x for _, labels in self.keys for x in labels}
        out: list[frozenset[str]] = []
        if whole_key:
            out += [key_holders | {p} for p in providers]
        a = self.custodian_of_a
        if a is not None:
            if whole_key and n % 2 == 0:
                out.append(key_holders | {a})
            out.append(frozenset({a, *providers}))
        return tuple(dict.fromkeys(out))

    def trades(self) -> list[str]:
        """What this placement trades, in plain words, exactly (the leakage algebra decides): who
        keeps ``A``; for every key holder, how many providers suffice to recover the state with
        it and no other key holder (:func:`~qclone.analysis.leakage.fewest_clones`), and whether
        the object survives its loss."""
        n = self.clones
        analyzer = protocol_analyzer(n)
        every_clone = {f"S{j}" for j in range(1, n + 1)}
        out = []
        if self.custodian_of_a is None:
            out.append("A is held by nobody (discarded after the encryption)")
        whole_key = [h for h, labels in self.keys if all(f"N{j}" in labels for j in range(1, n + 1))]
        for holder, labels in self.keys:
            need = fewest_clones(n, labels)
            held = " ".join(labels)
            if need is None:
                out.append(f"{holder} (holding {held}) cannot recover the state with providers alone")
            elif holder in whole_key and len(need) == 1:
                out.append(f"{holder} holds the whole key: {holder} with any one provider recovers the state "
                           "(the plain decryption)")
            elif "A" in labels and not any(x.startswith("N") for x in labels):
                out.append(f"{holder} keeps A: {holder} together with all {len(need)} providers can recover the state "
                           "without any other key holder, which is exactly why the object survives their loss "
                           "(while every provider survives)" if len(need) == n else
                           f"{holder} keeps A: {holder} together with {len(need)} of the {n} providers (those of "
                           f"{' '.join(need)}) can recover the state without any other key holder")
            else:
                some = f"all {n} providers" if len(need) == n else f"{len(need)} of the {n} providers (for example those of {' '.join(need)})"
                out.append(f"{holder} (holding {held}) together with {some} can recover the state without any other key holder: a clone "
                           "stands in for its own key qubit, so a split key guards against losing a key holder, "
                           "not against one key holder colluding with providers")
        for holder, _ in self.keys:
            rest = every_clone | {x for h, labels in self.keys if h != holder for x in labels}
            if analyzer.classify(rest).kind == "authorized":
                out.append(f"without {holder}, the other key holders and all providers together can still recover it")
            else:
                out.append(f"every recovery needs {holder}: losing {holder} loses the object")
        return out


def _check_holder_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HOLDER_ID.fullmatch(value):
        raise InvalidArgumentError(f"{what}: a holder id is 1-64 letters, digits, '_', '.' or '-' (starting with a "
                                   f"letter or digit), got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _split_key(clones: int, vaults: list[str], count: int | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if count is not None and count < 2:
        raise InvalidArgumentError(f"split-key:V splits the key over V >= 2 vaults, got V = {count}")
    v = len(vaults) if count is None else count
    if v < 2:
        raise InvalidArgumentError(f"split-key needs at least 2 vaults that are up; this service has {len(vaults)}"
                                   " (register more with `qclone serve --holder vault:ID`)")
    if v > len(vaults):
        raise InvalidArgumentError(f"split-key:{v} needs {v} vaults that are up; this service has {len(vaults)}")
    if v > clones:
        raise InvalidArgumentError(f"split-key:{v} splits n = {clones} key qubits over {v} vaults: at most n vaults")
    # the layout of the leakage audit's split-key:V, vault for vault
    return tuple(zip(vaults[:v], split_key_blocks(clones, v), strict=True))


def _builtin(name: str, clones: int, holders: Mapping[str, str], custodian: str | None) -> ObjectPlacement:
    key = tuple(f"N{j}" for j in range(1, clones + 1))
    if name == "today":
        return ObjectPlacement("today", clones, ((VAULT, key),))
    if name == "keep-A":
        custodians = sorted(h for h, kind in holders.items() if kind == "custodian")
        if custodian is not None:
            if custodian not in custodians:
                raise InvalidArgumentError(f"no custodian {custodian!r} is up; custodians up: "
                                           f"{', '.join(custodians) or 'none'}")
            chosen = custodian
        elif custodians:
            chosen = custodians[0]
        else:
            raise InvalidArgumentError("keep-A needs a custodian that is up; this service has none "
                                       "(register one with `qclone serve --holder custodian:ID`)")
        return ObjectPlacement("keep-A", clones, ((VAULT, key), (chosen, ("A",))))
    count = None
    if name != "split-key":
        try:
            count = int(name.split(":", 1)[1])
        except ValueError:
            raise InvalidArgumentError(f"split-key:V takes a number of vaults V, got {_shown(name)}") from None
    vaults = [VAULT] + sorted(h for h, kind in holders.items() if kind == "vault" and h != VAULT)
    if VAULT not in holders:
        vaults.remove(VAULT)
    return ObjectPlacement("split-key", clones, _split_key(clones, vaults, count))


def _custom(spec: Mapping[str, Any], clones: int, holders: Mapping[str, str]) -> ObjectPlacement:
    unknown = sorted(str(k)[:MAX_TEXT] for k in spec if k not in _CUSTOM_KEYS)
    if unknown:
        raise InvalidArgumentError(f"placement: unknown key(s) {', '.join(unknown)}; allowed: "
                                   f"{', '.join(sorted(_CUSTOM_KEYS))}")
    name = spec.get("name", "custom")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TEXT:
        raise InvalidArgumentError(f"placement: a name is 1-{MAX_TEXT} characters")
    description = spec.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise InvalidArgumentError("placement: a description is text of at most 1000 characters")
    intended = spec.get("intended")  # a leakage-audit file's own; the service audits against its recoveries
    if intended is not None and (not isinstance(intended, list) or len(intended) > MAX_PARTIES
                                 or not all(isinstance(c, list) and len(c) <= MAX_PARTIES for c in intended)):
        raise InvalidArgumentError(f"placement: 'intended' is a list of at most {MAX_PARTIES} coalitions (lists of names)")
    if spec.get("clones") is not None and spec.get("clones") != clones:
        raise InvalidArgumentError(f"placement {name!r} is written for n = {_shown(spec.get('clones'))} clones, "
                                   f"not n = {clones}")
    parties = spec.get("parties")
    if not isinstance(parties, Mapping) or not parties:
        raise InvalidArgumentError("placement: 'parties' must map party names to lists of qubits")
    if len(parties) > MAX_PARTIES:
        raise TooLargeError(f"placement: at most {MAX_PARTIES} parties, got {len(parties)}")
    for party, held in parties.items():
        _check_holder_id(party, "placement")
        items = [held] if isinstance(held, str) else held
        if not isinstance(items, list) or len(items) > MAX_LABELS:
            raise InvalidArgumentError(f"placement: party {party!r} holds a list of at most {MAX_LABELS} labels")
        for item in items:
            if not isinstance(item, str) or len(item) > MAX_TEXT:
                raise InvalidArgumentError(f"placement: party {party!r}: a qubit label is text of at most "
                                           f"{MAX_TEXT} characters, got {_shown(item)}")
    resolved = Placement(dict(parties), name=name).resolve(clones)  # patterns, labels, no qubit held twice
    keys = []
    for party, held in resolved.parties.items():
        clone_labels = sorted(x for x in held if x.startswith("S"))
        if clone_labels:
            if len(held) != 1:
                raise InvalidArgumentError(f"placement: party {party!r} holds {', '.join(sorted(held))}; a clone lives "
                                           "at a provider alone (chosen by the provider policy), with nothing else")
            continue
        if party not in holders:
            raise InvalidArgumentError(f"placement: {party!r} is not a key holder that is up here; the key holders "
                                       f"up are {', '.join(sorted(holders)) or 'none'}")
        if held:
            order = {"A": 0, **{f"N{j}": j for j in range(1, clones + 1)}}
            keys.append((party, tuple(sorted(held, key=order.__getitem__))))
    if not keys:
        raise InvalidArgumentError("placement: no party holds a key qubit or A")
    return ObjectPlacement(name, clones, tuple(keys))


def resolve_placement(spec: Any, clones: int, holders: Mapping[str, str], *,
                      custodian: str | None = None) -> ObjectPlacement:
    """The placement ``spec`` (a built-in name or a custom mapping) for n clones.

    Args:
        spec: ``None`` (``today``), a name of :data:`BUILTIN_PLACEMENTS` (``split-key:V`` too) or
            a custom mapping (see the module docstring).
        clones: n.
        holders: the key holders that are up: id -> kind (``vault`` / ``custodian``); the
            deployment's vault is ``{"vault": "vault"}``.
        custodian: for ``keep-A``, which custodian (default: the first up by id).

    Raises:
        InvalidArgumentError: an unknown name, a malformed or unknown party, a placement no
            recovery can serve (with the algebra's reason).
        TooLargeError: a custom placement over the budgets.
    """
    if spec is None or spec == "providers-without-client":  # the leakage audit's name of the same layout
        spec = DEFAULT_PLACEMENT
    if isinstance(spec, str):
        if spec not in BUILTIN_PLACEMENTS and not spec.startswith("split-key:"):
            if is_builtin_name(spec):  # a leakage-audit policy the service cannot hold (a client keeping A, S_j with N_j)
                raise InvalidArgumentError(f"{spec!r} is a leakage-audit policy ({AUDIT_POLICIES[spec][0]}), not a "
                                           f"placement this service holds; built in here: {', '.join(BUILTIN_PLACEMENTS)}, "
                                           "split-key:V (or a custom placement: a mapping with 'parties')")
            raise InvalidArgumentError(f"unknown placement {_shown(spec)}; built in: {', '.join(BUILTIN_PLACEMENTS)}, "
                                       "split-key:V (or a custom placement: a mapping with 'parties')")
        placement = _builtin(spec, clones, holders, custodian)
    elif isinstance(spec, Mapping):
        placement = _custom(spec, clones, holders)
    else:
        raise InvalidArgumentError(f"a placement is a built-in name or a mapping with 'parties', got {type(spec).__name__}")
    held = {f"S{j}" for j in range(1, clones + 1)} | {x for _, labels in placement.keys for x in labels}
    c = protocol_analyzer(clones).classify(held)
    if c.kind != "authorized":
        raise InvalidArgumentError(f"placement {placement.name!r} can never be recovered: even every holder together "
                                   f"learns {', '.join(c.leaked) or 'nothing'} of the state (holding {' '.join(sorted(held))})")
    return placement


def register_indices(layout: Layout, labels: Any) -> tuple[int, ...]:
    """The layout's qubit indices of register labels (``A``, ``S<j>``, ``N<j>``; k qubits each)."""
    out: list[int] = []
    for label in labels:
        if label == "A":
            out += layout.inputs
        elif label.startswith("S"):
            out += layout.clone(int(label[1:]))
        elif label.startswith("N"):
            out += layout.key(int(label[1:]))
        else:
            raise InvalidArgumentError(f"not a register label: {_shown(label)}")
    return tuple(out)
