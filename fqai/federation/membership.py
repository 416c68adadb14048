"""Setting a federation up on-chain: create it, fund node accounts, stake and register keys."""

from __future__ import annotations

import logging

from fqai.chain import ChainClient, FederationConfig, FederationRegistry, KeySender, MemberStatus
from fqai.keystore import NodeIdentity

log = logging.getLogger(__name__)


def create_federation(chain: ChainClient, config: FederationConfig, pool_wei: int = 0) -> int:
    """Create a federation coordinated by ``chain``'s sender; return its id."""
    return FederationRegistry(chain).create_federation(config, pool_wei)


def join_federation(
    chain: ChainClient,
    identity: NodeIdentity,
    federation_id: int,
    stake_wei: int | None = None,
    *,
    key_digest: str | None = None,
    supernode_key_digest: str | None = None,
) -> bool:
    """Stake and register ``identity``'s ML-DSA-65 key digest, unless already a member.

    ``stake_wei`` defaults to the federation's minimum stake; ``key_digest`` (for tests of the
    coordinator's checks) overrides the digest registered. With ``supernode_key_digest`` the
    join also records the node's Flower SuperNode key (one transaction), and a member whose
    recorded SuperNode key differs has it replaced. Returns whether a join was sent.
    """
    node_chain = chain.with_sender(KeySender(identity.eth_private_key))
    registry = FederationRegistry(node_chain)
    member = registry.member(federation_id, node_chain.address)
    if member.status is MemberStatus.ACTIVE:
        log.info("%s is already a member of federation %d", node_chain.address, federation_id)
        if supernode_key_digest and (
            registry.supernode_key_of(federation_id, node_chain.address) != supernode_key_digest
        ):
            registry.set_supernode_key(federation_id, supernode_key_digest)
        return False
    stake = stake_wei if stake_wei is not None else registry.config(federation_id).min_stake
    digest = key_digest or identity.public.mldsa_key_digest
    if supernode_key_digest:
        registry.join_with_supernode_key(federation_id, digest, supernode_key_digest, stake)
    else:
        registry.join(federation_id, digest, stake)
    return True
