"""Representation analyses: cross-lingual similarity, encoder stability, correlation with transfer.

Entry points: `similarity.run_similarity`, `stability.run_stability`,
`correlation.run_correlation` (see docs/analysis.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignscope.registry import Registry

if TYPE_CHECKING:
    from alignscope.analysis.measures import Measure

# Named without importing numpy or torch: option validation and --help list them for free.
MEASURES: Registry[Measure] = Registry("measure", {
    name: f"alignscope.analysis.measures:{name.upper().replace('-', '_')}" for name in (
        "linear", "debiased", "rbf", "debiased-rbf", "anc", "retrieval", "mexa", "margin")})
