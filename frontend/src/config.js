// Runtime configuration: `config.json` next to index.html, written by whoever serves the build:
//   {"rpcUrl": "http://127.0.0.1:8545", "ipfsGateway": "/ipfs/" or "http://host:8080/ipfs/",
//    "deployment": "deployments/31337.json", "devAccounts": true}
// `deployment` is the record scripts/deploy.py writes (addresses + ABIs; no ABI is copied here).
// Relative URLs resolve against the page, so one static build works on any host or path.

export async function loadConfig() {
  const url = new URL('config.json', document.baseURI);
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  const config = await response.json();
  for (const key of ['rpcUrl', 'ipfsGateway', 'deployment']) {
    if (typeof config[key] !== 'string' || !config[key]) throw new Error(`config.json: '${key}' is missing`);
  }
  const deploymentUrl = new URL(config.deployment, url);
  const res = await fetch(deploymentUrl, { cache: 'no-store' });
  if (!res.ok) throw new Error(`cannot load deployment record ${deploymentUrl}: HTTP ${res.status}`);
  const deployment = await res.json();
  if (!Number.isInteger(deployment.chainId) || typeof deployment.contracts !== 'object') {
    throw new Error(`${deploymentUrl} is not a deployment record`);
  }
  for (const name of ['ModelNFT', 'ModelMarketplace', 'FederationRegistry']) {
    const entry = deployment.contracts[name];
    if (!entry || !entry.address || !Array.isArray(entry.abi)) throw new Error(`deployment record lacks ${name}`);
  }
  return {
    rpcUrl: new URL(config.rpcUrl, url).href,
    ipfsGateway: new URL(config.ipfsGateway.endsWith('/') ? config.ipfsGateway : `${config.ipfsGateway}/`, url).href,
    devAccounts: config.devAccounts === true,
    deployment,
  };
}
