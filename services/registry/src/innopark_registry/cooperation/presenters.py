"""Clusters and agreements as the API shows them."""

from __future__ import annotations

from ..models import Agreement, Cluster
from .schemas import AgreementRead, ClusterRead


def present_cluster(cluster: Cluster) -> ClusterRead:
    return ClusterRead.model_validate(cluster, from_attributes=True)


def present_agreement(agreement: Agreement) -> AgreementRead:
    return AgreementRead.model_validate(agreement, from_attributes=True)
