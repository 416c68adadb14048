"""Exceptions of :mod:`fqai.federation`."""

from __future__ import annotations

from fqai.errors import FqaiError


class FederationError(FqaiError):
    """A federation could not be set up, run or finalised."""


class UpdateRejectedError(FederationError):
    """A node's update failed one of the coordinator's checks; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ProcessError(FederationError):
    """A Flower process (SuperLink, SuperNode, ``flwr run``) failed to start or finish."""


class QuorumError(FederationError):
    """Fewer updates were accepted in a round than the federation's quorum; not finalised."""
