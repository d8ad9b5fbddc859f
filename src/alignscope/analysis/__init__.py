"""Representation analyses: cross-lingual similarity, encoder stability, correlation with transfer.

Entry points: `similarity.run_similarity`, `stability.run_stability`,
`correlation.run_correlation` (see docs/analysis.md).
"""
