"""The registry's change feed: everything a mirror needs (parks, residents, clusters,
agreements, KPI reports; removals included), gap-free, behind one cursor."""
