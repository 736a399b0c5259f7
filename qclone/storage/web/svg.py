"""Server-rendered SVG pictures of the dashboard: where an object's qubits live, and Bloch spheres.

Every number drawn comes from the record the JSON API returns (the object's placement, its
coalition audit, the holders) or from a get's result; nothing here computes physics. Text is
escaped (:func:`html.escape`) because names come from users and operators.

Examples:
    >>> svg = bloch_sphere([0.0, 0.0, 1.0], label="stored")
    >>> svg.startswith("<svg") and "stored" in svg
    True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["bloch_sphere", "placement_picture"]

_BOX_W, _BOX_H, _PAD, _ZONE_HEAD = 150, 56, 12, 26


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def placement_picture(record: Mapping[str, Any], holders: Sequence[Mapping[str, Any]] = (),
                      highlight: Iterable[str] = ()) -> str:
    """The parties that hold an object's qubits, grouped by zone, as one SVG.

    Args:
        record: the object's record as ``stat(..., full_audit=True)`` returns it (``placement``,
            ``parts``, ``audit_report``).
        holders: the key holders' records (their zones), as ``/v1/holders`` lists them.
        highlight: parties to highlight (a coalition of the audit).
    """
    hl = set(highlight)
    report = record.get("audit_report") or {}
    parties: dict[str, list[str]] = dict((report.get("placement") or {}).get("parties") or {})
    zone_of: dict[str, str] = {}
    status: dict[str, str] = {}
    role: dict[str, str] = {}
    for c in record.get("placement") or []:
        zone_of[c["provider"]] = str(c.get("zone") or "-")
        status[c["provider"]] = "down" if c.get("provider_state") == "down" else str(c.get("state"))
        role[c["provider"]] = f"provider, clone {c['clone']}"
    kinds = {str(h["id"]): (str(h.get("kind")), str(h.get("zone") or "-")) for h in holders}
    for p in record.get("parts") or []:
        kind, zone = kinds.get(p["holder"], ("key holder", "-"))
        zone_of.setdefault(p["holder"], zone)
        status.setdefault(p["holder"], str(p.get("state")))
        role.setdefault(p["holder"], kind)
    for name in parties:
        zone_of.setdefault(name, "-")
        role.setdefault(name, "holder")
    unplaced = list(report.get("unplaced_qubits") or [])
    zones: dict[str, list[str]] = {}
    for name in sorted(zone_of, key=lambda n: (zone_of[n], n)):
        zones.setdefault(zone_of[name], []).append(name)
    if unplaced:
        zones.setdefault("nowhere (discarded)", []).append("")
    columns = list(zones.items())
    rows = max((len(v) for _, v in columns), default=1)
    width = max(1, len(columns)) * (_BOX_W + 2 * _PAD) + _PAD
    height = _ZONE_HEAD + rows * (_BOX_H + _PAD) + 2 * _PAD + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="placement" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="placement-title">',
           f'<title id="placement-title">Where the qubits of {_e(record.get("name", ""))} live</title>']
    for ci, (zone, names) in enumerate(columns):
        x0 = _PAD + ci * (_BOX_W + 2 * _PAD)
        zh = _ZONE_HEAD + len(names) * (_BOX_H + _PAD) + _PAD
        out.append(f'<g class="zone"><rect x="{x0}" y="{_PAD}" width="{_BOX_W + _PAD}" height="{zh}" rx="8" '
                   f'class="zone-box"/><text x="{x0 + 8}" y="{_PAD + 18}" class="zone-name">{_e(zone)}</text></g>')
        for ri, name in enumerate(names):
            y = _PAD + _ZONE_HEAD + ri * (_BOX_H + _PAD)
            if not name:  # the qubits nobody holds
                out.append(f'<g class="party discarded"><rect x="{x0 + 6}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" '
                           f'rx="6"/><text x="{x0 + 14}" y="{y + 22}">{_e(" ".join(unplaced))}</text>'
                           f'<text x="{x0 + 14}" y="{y + 42}" class="small">held by no party</text></g>')
                continue
            cls = ["party", "hl" if name in hl else "", "down" if status.get(name) in ("down", "lost") else ""]
            qubits = " ".join(parties.get(name, []))
            out.append(f'<g class="{" ".join(c for c in cls if c)}" data-party="{_e(name)}">'
                       f'<rect x="{x0 + 6}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6"/>'
                       f'<text x="{x0 + 14}" y="{y + 18}" class="party-name">{_e(name)}</text>'
                       f'<text x="{x0 + 14}" y="{y + 34}" class="small">{_e(role.get(name, ""))} · {_e(status.get(name, ""))}</text>'
                       f'<text x="{x0 + 14}" y="{y + 49}" class="qubits">{_e(qubits)}</text></g>')
    if hl:
        out.append(f'<text x="{_PAD}" y="{height - 8}" class="small">highlighted: {_e(" + ".join(sorted(hl)))}</text>')
    out.append("</svg>")
    return "".join(out)


def _project(v: Sequence[float], cx: float, cy: float, r: float) -> tuple[float, float]:
    """An oblique projection: y to the right, z up, x toward the viewer (down and left)."""
    x, y, z = (float(c) for c in v)
    return cx + r * (y - 0.38 * x), cy - r * (z - 0.28 * x)


def bloch_sphere(vector: Sequence[float], *, label: str, other: Sequence[float] | None = None,
                 size: int = 180) -> str:
    """One Bloch sphere with ``vector`` drawn as an arrow (and ``other`` dashed, if given).

    The numbers are printed under the sphere so the picture never stands alone.
    """
    r = size * 0.36
    cx = cy = size / 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bloch" viewBox="0 0 {size} {size + 34}" '
             f'width="{size}" height="{size + 34}" role="img" aria-label="Bloch sphere: {_e(label)}">',
             f'<circle cx="{cx}" cy="{cy}" r="{r:.1f}" class="sphere"/>',
             f'<ellipse cx="{cx}" cy="{cy}" rx="{r:.1f}" ry="{r * 0.28:.1f}" class="equator"/>']
    for axis, name in (((1, 0, 0), "x"), ((0, 1, 0), "y"), ((0, 0, 1), "z")):
        ax, ay = _project(axis, cx, cy, r * 1.12)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{ax:.1f}" y2="{ay:.1f}" class="axis"/>'
                     f'<text x="{ax:.1f}" y="{ay:.1f}" class="axis-name">{name}</text>')
    if other is not None:
        ox, oy = _project(other, cx, cy, r)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{ox:.1f}" y2="{oy:.1f}" class="vector other"/>'
                     f'<circle cx="{ox:.1f}" cy="{oy:.1f}" r="3" class="tip other"/>')
    vx, vy = _project(vector, cx, cy, r)
    parts.append(f'<line x1="{cx}" y1="{cy}" x2="{vx:.1f}" y2="{vy:.1f}" class="vector"/>'
                 f'<circle cx="{vx:.1f}" cy="{vy:.1f}" r="4" class="tip"/>')
    x, y, z = (float(c) for c in vector)
    parts.append(f'<text x="4" y="{size + 12}" class="small">{_e(label)}</text>'
                 f'<text x="4" y="{size + 28}" class="small">({x:+.3f}, {y:+.3f}, {z:+.3f})</text></svg>')
    return "".join(parts)
