"""Leakage audit: who learns what about the input from which qubits, exactly.

One call for the bare protocol (:func:`classify`), a general engine for any
Clifford encoding (:class:`CliffordEncoding`, :class:`LeakageAnalyzer`), the
published rules to compare with (:func:`published_classification`), counts
over all subsets (:func:`subset_census`) and the coalition audit of a
placement of qubits at parties (:func:`audit_placement`). See
``docs/leakage.md``.
"""

from qclone.analysis.leakage.analyzer import (
    KINDS,
    MAX_ENUMERATED_DIMENSION,
    Classification,
    LeakageAnalyzer,
    LogicalSubspace,
    Witness,
    pauli_name,
)
from qclone.analysis.leakage.audit import MAX_COALITIONS, AuditReport, Finding, audit_placement, fewest_clones
from qclone.analysis.leakage.census import KindCounts, SubsetCensus, enumerate_sets, subset_census
from qclone.analysis.leakage.encoding import CliffordEncoding
from qclone.analysis.leakage.placement import (
    BUILTIN_POLICIES,
    Placement,
    builtin_placement,
    expand_label,
    is_builtin_name,
    load_placement,
    placement_from_option,
    split_key_blocks,
)
from qclone.analysis.leakage.rules import pair_counts, published_classification
from qclone.analysis.leakage.stages import (
    STAGE_HELP,
    canonical_stage,
    classify,
    normalize_protocol_label,
    parse_stage,
    protocol_analyzer,
    protocol_encoding,
    protocol_label_index,
    protocol_labels,
    stage_name,
)

__all__ = [
    "KINDS", "MAX_ENUMERATED_DIMENSION", "Classification", "LeakageAnalyzer", "LogicalSubspace", "Witness", "pauli_name",
    "MAX_COALITIONS", "AuditReport", "Finding", "audit_placement", "fewest_clones",
    "KindCounts", "SubsetCensus", "enumerate_sets", "subset_census",
    "CliffordEncoding",
    "BUILTIN_POLICIES", "Placement", "builtin_placement", "expand_label", "is_builtin_name", "load_placement",
    "placement_from_option", "split_key_blocks",
    "pair_counts", "published_classification",
    "STAGE_HELP", "canonical_stage", "classify", "normalize_protocol_label", "parse_stage", "protocol_analyzer",
    "protocol_encoding", "protocol_label_index", "protocol_labels", "stage_name",
]
