"""The storage part of ``qclone demo``: store a state, apply a logical gate to its encrypted clones, lose
providers, retrieve it once (the gated state), fail the second time;
then, once, lose the vault and still retrieve an object whose placement keeps ``A`` with a custodian.

Everything runs in one process on the real storage classes (an in-memory
metadata database, substrate, key vault and provider nodes); the clock is a
settable one, so the storage time is simulated, never slept.

Examples:
    >>> r = storage_demo(clones=3, seed=1, storage_time=60.0)
    >>> r["get"]["fidelity"] > 0.9, r["second_get"]["status"]
    (True, 409)
    >>> r["gate"]["gate"], r["gate"]["key_holders"]
    ('H', ['vault'])
    >>> r["vault_lost"]["get"]["holders"], r["vault_lost"]["second_get"]["status"]
    (['custodian'], 409)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError, QcloneError
from qclone.sim.exact import bloch_vector
from qclone.storage.clock import SettableClock
from qclone.storage.db import Database
from qclone.storage.errors import http_status
from qclone.storage.inputs import parse_state
from qclone.storage.service import ProviderDirectory, StorageService
from qclone.storage.substrate import Substrate
from qclone.storage.vault import KeyVault

#: Most clones (and providers) the storage demo takes.
MAX_DEMO_CLONES = 64
#: Seconds the demo's object stays stored before it is retrieved.
DEFAULT_STORAGE_TIME = 60.0


def _random_bloch(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=3)
    return (v / np.linalg.norm(v)).tolist()


def _refusal(call: Any) -> dict[str, Any]:
    """Run ``call`` expecting a refusal; its HTTP status and message (``refused`` False if it worked)."""
    try:
        call()
    except QcloneError as e:
        return {"refused": True, "status": http_status(e), "error": type(e).__name__, "message": str(e)}
    return {"refused": False, "status": 200, "error": None, "message": ""}


def storage_demo(*, clones: int = 4, seed: int | None = None,
                 storage_time: float = DEFAULT_STORAGE_TIME) -> dict[str, Any]:
    """Store a random qubit as ``clones`` encrypted clones at as many providers, read what one provider
    can learn, apply one logical gate G to the stored clones (its holders act, nothing is decrypted),
    kill all providers but one, retrieve the state once (G|ψ⟩) and try a second time.

    Then (``vault_lost``): the providers are revived, a second random qubit is stored with the
    ``keep-A`` placement (a custodian keeps ``A``), the vault loses every key it holds, and the
    state is still retrieved, once, by the custodian with all providers.

    Returns:
        A dict of computed facts: the input Bloch vector, the placement and its audit verdict, the
        provider's view of its clone, which providers were killed, the retrieved state and its
        fidelity after ``storage_time`` seconds of memory noise, the second attempt's refusal, and
        ``vault_lost`` (the keep-A object's trades, the holder sets it is retrievable from once the
        vault is lost, the retrieved state and the second attempt's refusal).
    """
    if not 1 <= clones <= MAX_DEMO_CLONES:
        raise InvalidArgumentError(f"the storage demo takes 1 to {MAX_DEMO_CLONES} clones, got {clones}")
    rng = np.random.default_rng(seed)
    clock = SettableClock(None, start=0.0)
    svc = StorageService(Database.open(), Substrate(None), KeyVault(None), ProviderDirectory.local(None), clock)
    provider_ids = [f"p{j}" for j in range(1, clones + 1)]
    for j, pid in enumerate(provider_ids, start=1):
        svc.providers_add(pid, zone=f"zone-{j}", actor="system")
    tenant = svc.authenticate(svc.create_tenant("demo"))
    bloch = _random_bloch(rng)
    stored = svc.put(tenant, "psi", parse_state("bloch", bloch), clones=clones, force=clones == 1,
                     keep_reference=True)
    clock.advance(storage_time)
    holder = stored["placement"][0]["provider"]
    peek = svc.peek(tenant, "psi", holder)
    gate = _logical_gate(svc, tenant, clones, bloch)
    survivor = provider_ids[int(rng.integers(clones))]
    killed = [pid for pid in provider_ids if pid != survivor]
    for pid in killed:
        svc.providers_kill(pid, actor="demo")
    got = svc.get(tenant, "psi", ack=True)
    second = _refusal(lambda: svc.get(tenant, "psi", ack=True))
    after = svc.stat(tenant, "psi")
    rho = np.asarray(got["density_matrix"], dtype=complex)
    vault_lost = _vault_lost(svc, tenant, clock, killed, rng, clones, storage_time)
    return {
        "clones": clones,
        "seed": seed,
        "storage_time": storage_time,
        "input_bloch": bloch,
        "providers": provider_ids,
        "placement": [{"clone": p["clone"], "provider": p["provider"], "zone": p["zone"]} for p in stored["placement"]],
        "audit": stored["audit"],
        "peek": {"provider": holder, "clone": peek["clone"], "bloch": peek["bloch"],
                 "maximally_mixed": peek["maximally_mixed"]},
        "gate": gate,
        "killed": killed,
        "get": {"provider": got["provider"], "clone": got["clone"], "bloch": [float(x) for x in bloch_vector(rho)],
                "fidelity": got["fidelity"], "elapsed": got["elapsed"]},
        "second_get": second,
        "state_after": after["state"],
        "vault_lost": vault_lost,
    }


def _logical_gate(svc: StorageService, tenant: Any, clones: int, bloch: list[float]) -> dict[str, Any]:
    """One logical gate on the stored object, applied by its holders (``H`` for odd n, the axis cycle
    ``C_XYZ`` for even n: both need the key holder's part), and the Bloch vector the single
    decryption should then show: the input's, rotated by the gate's matrix (computed here from
    ``local_unitary``, not by the service)."""
    from qclone.protocol.logical import local_unitary

    name = "H" if clones % 2 else "C_XYZ"
    done = svc.apply(tenant, "psi", name)
    u = local_unitary(name)
    x, y, z = bloch
    rho = u @ (np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2) @ u.conj().T
    return {"gate": done["gate"], "done": done["done"], "key_holders": done["key_holders"], "note": done["note"],
            "expected_bloch": [float(v) for v in bloch_vector(rho)]}


def _vault_lost(svc: StorageService, tenant: Any, clock: SettableClock, killed: list[str], rng: np.random.Generator,
                clones: int, storage_time: float) -> dict[str, Any] | None:
    """The keep-A part of the demo (None for n = 1, where a custodian with the one clone would be
    the plain decryption's twin and nothing is shown)."""
    if clones < 2:
        return None
    for pid in killed:
        svc.providers_revive(pid, actor="demo")
    svc.holders_add("custodian", "custodian", actor="system")
    bloch = _random_bloch(rng)
    stored = svc.put(tenant, "kept", parse_state("bloch", bloch), clones=clones, keep_reference=True, placement="keep-A")
    clock.advance(storage_time)
    svc.vault = KeyVault(None)  # the vault's disk is lost: every key it held is gone
    integrity = svc.check_integrity()  # what the reconciler runs every few passes: the vault's part is lost
    st = svc.stat(tenant, "kept")
    got = svc.get(tenant, "kept", ack=True)
    second = _refusal(lambda: svc.get(tenant, "kept", ack=True))
    rho = np.asarray(got["density_matrix"], dtype=complex)
    return {
        "input_bloch": bloch,
        "placement": stored["placement_name"],
        "parts": stored["parts"],
        "trades": stored["audit"]["trades"],
        "safe": stored["audit"]["safe"],
        "lost_objects": len(integrity["lost_objects"]),
        "retrievable_from": st["recovery"]["sets"],
        "get": {"holders": got["holders"], "clone": got["clone"], "bloch": [float(x) for x in bloch_vector(rho)],
                "fidelity": got["fidelity"]},
        "second_get": second,
    }
