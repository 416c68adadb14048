// Reading a model token: on-chain views plus the verified manifest.
import { verifyProvenance } from './lib/provenance.js';
import { gatewayFetcher } from './chain.js';

const ZERO = '0x0000000000000000000000000000000000000000';
const verified = new Map(); // manifest CID + on-chain digests -> Promise<result>

/** Token ids from ModelMinted events, newest first. */
export async function listTokenIds(chain) {
  const events = await chain.nft.queryFilter(chain.nft.filters.ModelMinted(), 0, 'latest');
  return events.map((e) => e.args.tokenId).sort((a, b) => (a > b ? -1 : 1));
}

function memberKeysReader(chain) {
  return async (federationId, address) => {
    const events = await chain.registry.queryFilter(chain.registry.filters.NodeJoined(BigInt(federationId), address), 0, 'latest');
    return new Set(events.map((e) => String(e.args.keyDigest).toLowerCase()));
  };
}

export function verifyToken(config, chain, provenance) {
  const key = [provenance.manifestCID, provenance.weightsDigest, provenance.signerKeyDigest, provenance.federationId, provenance.round].join('|');
  if (!verified.has(key)) {
    verified.set(key, verifyProvenance({ provenance, fetchBlock: gatewayFetcher(config), memberKeys: memberKeysReader(chain) }));
  }
  return verified.get(key);
}

export async function loadToken(chain, tokenId) {
  const id = BigInt(tokenId);
  const [provenance, owner, listing, offerCount] = await Promise.all([
    chain.nft.provenance(id), chain.nft.ownerOf(id), chain.market.listingOf(id), chain.market.offerCount(id),
  ]);
  const offers = await Promise.all(Array.from({ length: Number(offerCount) }, (_, i) => chain.market.getOffer(id, i)));
  return {
    id,
    provenance,
    owner,
    listing: listing.seller === ZERO ? null : listing,
    offers: offers.map((o, i) => ({ ...o.toObject(), offerId: i })),
  };
}

/** What a model is for: `task` from the model params when the publisher gave one. */
export function taskOf(manifest) {
  const task = manifest?.model?.params?.task;
  return typeof task === 'string' ? task : null;
}
