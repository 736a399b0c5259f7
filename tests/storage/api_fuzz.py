"""schemathesis against the gateway's own OpenAPI document, on a real ``qclone serve`` process.

Requests are generated from ``/openapi.json`` (valid and invalid ones: positive and negative
generation, every route) and sent with a random credential: tenant A's token, tenant B's, the
admin token, a bad token or none. A third of the cases use the name of an object that exists,
so stat, get, peek and delete reach the service, not only its 404. Every response is checked
by schemathesis: no server error (5xx), the status code, content type, headers and body as
the document declares them.

The short form runs in the test suite (``tests/storage/test_api_fuzz.py``); the long form::

    python -m tests.storage.api_fuzz --requests 1200

starts its own server in a temporary directory and prints the figures; it exits 1 unless
server errors and schema violations are both 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

#: The schemathesis checks a response must pass, and what each counts as.
SERVER_ERRORS = ("not_a_server_error",)
SCHEMA_CHECKS = ("status_code_conformance", "content_type_conformance", "response_headers_conformance",
                 "response_schema_conformance")
CREDENTIALS = ("tenant-a", "tenant-b", "admin", "bad", "none")


def _checks() -> dict[str, Any]:
    from schemathesis.checks import load_all_checks
    from schemathesis.specs.openapi import checks as openapi_checks

    load_all_checks()
    import schemathesis.checks as base_checks

    out = {"not_a_server_error": base_checks.not_a_server_error}
    for name in SCHEMA_CHECKS:
        out[name] = getattr(openapi_checks, name)
    return out


def seed_objects(url: str, token: str, names: list[str]) -> None:
    """Objects that exist, so that generated requests on them reach the service."""
    for name in names:
        r = httpx.put(f"{url}/v1/objects/{name}", json={"state": {"kind": "bloch", "data": [0.6, 0, 0.8]}},
                      headers={"authorization": f"Bearer {token}"}, timeout=30)
        if r.status_code not in (201, 409):
            raise RuntimeError(f"cannot seed object {name}: {r.status_code} {r.text}")


def fuzz(url: str, tokens: dict[str, str], requests: int, *, seed: int = 0, names: tuple[str, ...] = ()) -> dict:
    """Send ``requests`` generated requests; the figures and the first failures of each check."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    strategies = [schema.as_strategy(generation_mode=GenerationMode.POSITIVE),
                  schema.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    strategies += [schema.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={"name": n})
                   for n in names]
    weights = st.sampled_from(range(len(strategies)))
    checks = _checks()
    figures: Counter[str] = Counter()
    failures: dict[str, list[str]] = {}
    statuses: Counter[int] = Counter()
    session = httpx.Client(timeout=60)

    @settings(max_examples=requests, deadline=None, database=None, derandomize=seed == 0,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data(), who=st.sampled_from(CREDENTIALS))
    def one(data: Any, who: str) -> None:
        which = data.draw(weights)
        case = data.draw(strategies[min(which, len(strategies) - 1)])
        headers = {"authorization": "Bearer " + tokens[who]} if who in tokens else {}
        if who == "bad":
            headers = {"authorization": "Bearer Qnot-a-real-token.0123456789abcdef"}
        try:
            response = case.call(base_url=url, headers=headers, timeout=60)
        except Exception as exc:  # noqa: BLE001 - a transport error is a finding: counted and reported
            figures["transport_errors"] += 1
            failures.setdefault("transport", []).append(f"{case.method} {case.formatted_path}: {exc!r}")
            return
        figures["requests"] += 1
        statuses[response.status_code] += 1
        for name, check in checks.items():
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup: counted per check
                figures["server_errors" if name in SERVER_ERRORS else "schema_violations"] += 1
                failures.setdefault(name, []).append(
                    f"{case.method} {case.formatted_path} as {who} -> {response.status_code}: "
                    f"{' '.join(str(exc).split())[:400]}")

    try:
        one()
    finally:
        session.close()
    return {"requests": figures["requests"], "server_errors": figures["server_errors"],
            "schema_violations": figures["schema_violations"], "transport_errors": figures["transport_errors"],
            "statuses": dict(sorted(statuses.items())),
            "failures": {k: v[:5] for k, v in failures.items()}}


def run_against_new_server(requests: int, *, seed: int = 0, root: Path | None = None) -> dict:
    """Start ``qclone serve`` (embedded, SQLite, settable clock) with two tenants, fuzz it, stop it."""
    from tests.storage.procs import Server, free_port, read_token

    with tempfile.TemporaryDirectory(prefix="qclone-fuzz-") as tmp:
        data = Path(root or tmp) / "data"
        server = Server(["--data-dir", str(data), "--settable-clock"], free_port(), Path(root or tmp) / "server.log")
        server.start()
        try:
            admin = read_token(data, "admin-token")
            r = httpx.post(server.url + "/v1/tenants", json={"name": "fuzz-b"},
                           headers={"authorization": f"Bearer {admin}"}, timeout=30)
            r.raise_for_status()
            tokens = {"tenant-a": read_token(data), "tenant-b": r.json()["token"], "admin": admin}
            names = ("seeded-1", "seeded-2", "seeded-3")
            seed_objects(server.url, tokens["tenant-a"], list(names))
            started = time.perf_counter()
            out = fuzz(server.url, tokens, requests, seed=seed, names=names)
            out["seconds"] = round(time.perf_counter() - started, 1)
            if server.proc is not None and server.proc.poll() is not None:
                out["server_exited"] = server.proc.returncode
            log = server.log.read_text(errors="replace")
            out["logged_5xx"] = log.count(": 500 ") + log.count(": 503 ")
            return out
        finally:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1200, help="generated requests (default 1200)")
    parser.add_argument("--seed", type=int, default=0, help="0: derandomised (the same requests every run)")
    args = parser.parse_args(argv)
    out = run_against_new_server(args.requests, seed=args.seed)
    print(f"schemathesis: {out['requests']} requests, {out['server_errors']} server errors, "
          f"{out['schema_violations']} schema violations, {out['transport_errors']} transport errors "
          f"({out['seconds']} s); statuses {out['statuses']}")
    if out["failures"]:
        print(json.dumps(out["failures"], indent=1))
    ok = out["server_errors"] == 0 and out["schema_violations"] == 0 and out["transport_errors"] == 0
    return 0 if ok and out["requests"] >= args.requests * 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
