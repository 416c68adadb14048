// The injected EIP-6963 / EIP-1193 test wallet (see injected_wallet.py): called with its config.
((config) => {
  let chainId = config.chainId;
  const listeners = {};
  const emit = (name, value) => (listeners[name] || []).forEach((fn) => fn(value));
  const rpc = async (method, params) => {
    const response = await fetch(config.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params || [] }) });
    const body = await response.json();
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
    return body.result;
  };
  const provider = {
    request: async ({ method, params }) => {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [config.address];
      if (method === 'eth_chainId') return '0x' + chainId.toString(16);
      if (method === 'net_version') return String(chainId);
      if (method === 'wallet_switchEthereumChain') {
        chainId = parseInt(params[0].chainId, 16);
        emit('chainChanged', params[0].chainId);
        return null;
      }
      if (method === 'eth_sendTransaction') {
        if (config.mode === 'reject') throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
        if (chainId !== config.rpcChainId) throw Object.assign(new Error('wallet is on another chain'), { code: 4901 });
        const result = await window.fqaiTestWalletSend(JSON.stringify(params[0]));
        const parsed = JSON.parse(result);
        if (parsed.error) throw Object.assign(new Error(parsed.error.message), parsed.error);
        return parsed.hash;
      }
      if (method.startsWith('eth_sign') || method.startsWith('personal_')) throw Object.assign(new Error('not in the test wallet'), { code: 4200 });
      return rpc(method, params);
    },
    on: (name, fn) => { (listeners[name] ||= []).push(fn); },
    removeListener: (name, fn) => { listeners[name] = (listeners[name] || []).filter((f) => f !== fn); },
  };
  const info = { uuid: '6b1f0a4e-0000-4000-8000-000000000002', name: config.name,
                 icon: 'data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22/>', rdns: 'org.fqai.testwallet' };
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
})
