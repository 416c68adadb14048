// Read access to the deployed contracts and decoding of their custom errors. Addresses and ABIs
// come only from the deployment record.
import { Contract, Interface, JsonRpcProvider, formatEther, isError } from 'ethers';
import { readCapped } from './lib/provenance.js';

export function makeChain(config) {
  const { deployment } = config;
  const provider = new JsonRpcProvider(config.rpcUrl, deployment.chainId, { staticNetwork: true });
  const contract = (name, runner = provider) => new Contract(deployment.contracts[name].address, deployment.contracts[name].abi, runner);
  const interfaces = Object.values(deployment.contracts).map((c) => new Interface(c.abi));
  return {
    provider,
    chainId: deployment.chainId,
    nft: contract('ModelNFT'),
    market: contract('ModelMarketplace'),
    registry: contract('FederationRegistry'),
    contract,
    interfaces,
  };
}

function findRevertData(err) {
  const seen = new Set();
  const stack = [err];
  while (stack.length) {
    const e = stack.pop();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    if (typeof e.data === 'string' && /^0x[0-9a-fA-F]{8}/.test(e.data)) return e.data;
    for (const key of ['error', 'info', 'data', 'cause', 'payload']) stack.push(e[key]);
  }
  return null;
}

function formatArg(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(formatArg).join(', ')}]`;
  return String(value);
}

/**
 * Explain a failed call or transaction: the contract's custom error with its arguments
 * ("MarketplaceOfferInactive(tokenId=1, offerId=0)") when the revert data matches any ABI in the
 * deployment record, a wallet rejection, or the provider's message.
 */
export function describeError(err, interfaces) {
  if (isError(err, 'ACTION_REJECTED') || err?.code === 4001 || err?.info?.error?.code === 4001) {
    return { kind: 'rejected', text: 'Rejected in the wallet; nothing was sent.' };
  }
  const data = findRevertData(err);
  if (data) {
    for (const iface of interfaces) {
      try {
        const parsed = iface.parseError(data);
        if (parsed) {
          const args = parsed.fragment.inputs.map((input, i) => `${input.name || i}=${formatArg(parsed.args[i])}`);
          return { kind: 'revert', name: parsed.name, text: `${parsed.name}(${args.join(', ')})` };
        }
      } catch {
        // not this contract's error
      }
    }
    return { kind: 'revert', text: `reverted with unknown error data ${data.slice(0, 10)}` };
  }
  if (err?.revert?.name) return { kind: 'revert', name: err.revert.name, text: err.revert.signature };
  return { kind: 'error', text: err?.shortMessage || err?.message || String(err) };
}

export function eth(wei) {
  return `${formatEther(wei)} ETH`;
}

/** Fetch a raw block through the configured gateway (untrusted: callers re-hash it). */
export function gatewayFetcher(config) {
  return async (cid, maxSize) => {
    const response = await fetch(new URL(encodeURIComponent(cid), config.ipfsGateway), { cache: 'force-cache' });
    if (!response.ok) throw new Error(`gateway answered HTTP ${response.status}`);
    return readCapped(response, maxSize);
  };
}
