// Wallets: EIP-6963 discovery, the legacy EIP-1193 window.ethereum, and, on a local dev chain only,
// the node's unlocked dev accounts (clearly labelled; never offered for another chain).
import { BrowserProvider, getAddress } from 'ethers';
import { h, clear, shortHex } from './dom.js';

const DEV_CHAIN_IDS = new Set([31337, 1337]);

export class Wallet extends EventTarget {
  constructor(config, chain, root, bannerRoot) {
    super();
    this.config = config;
    this.chain = chain;
    this.root = root;
    this.bannerRoot = bannerRoot;
    this.providers = new Map(); // uuid -> {info, provider}
    this.active = null; // {label, provider (EIP-1193 or null), address, chainId, dev}
    this.devAvailable = config.devAccounts && DEV_CHAIN_IDS.has(chain.chainId);
    window.addEventListener('eip6963:announceProvider', (event) => {
      const { info, provider } = event.detail ?? {};
      if (!info?.uuid || !provider?.request) return;
      this.providers.set(info.uuid, { info, provider });
      this.render();
    });
    window.dispatchEvent(new Event('eip6963:requestProvider'));
    this.render();
  }

  get address() {
    return this.active?.address ?? null;
  }

  get wrongNetwork() {
    return Boolean(this.active && this.active.chainId !== this.chain.chainId);
  }

  candidates() {
    const list = [...this.providers.values()].map(({ info, provider }) => ({ label: info.name, provider, icon: info.icon }));
    if (!list.length && window.ethereum?.request) list.push({ label: 'Browser wallet', provider: window.ethereum });
    return list;
  }

  async connect(candidate) {
    const { provider } = candidate;
    const accounts = await provider.request({ method: 'eth_requestAccounts' });
    const chainId = Number(await provider.request({ method: 'eth_chainId' }));
    this.active = { label: candidate.label, provider, address: getAddress(accounts[0]), chainId, dev: false };
    provider.on?.('accountsChanged', (accs) => this.update({ address: accs[0] ? getAddress(accs[0]) : null }));
    provider.on?.('chainChanged', (id) => this.update({ chainId: Number(id) }));
    this.changed();
  }

  async connectDev(address) {
    this.active = { label: 'Local dev account (unlocked on the node)', provider: null, address, chainId: this.chain.chainId, dev: true };
    this.changed();
  }

  update(patch) {
    if (!this.active) return;
    Object.assign(this.active, patch);
    if (!this.active.address) this.active = null;
    this.changed();
  }

  disconnect() {
    this.active = null;
    this.changed();
  }

  changed() {
    this.render();
    this.dispatchEvent(new Event('change'));
  }

  /** An ethers Signer for transactions, or an Error explaining why there is none. */
  async signer() {
    if (!this.active) throw new Error('Connect a wallet first.');
    if (this.wrongNetwork) throw new Error(`Switch the wallet to chain ${this.chain.chainId} first.`);
    if (this.active.dev) return this.chain.provider.getSigner(this.active.address);
    return new BrowserProvider(this.active.provider, this.chain.chainId).getSigner(this.active.address);
  }

  async switchNetwork() {
    const chainId = `0x${this.chain.chainId.toString(16)}`;
    try {
      await this.active.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
    } catch (err) {
      if (err?.code !== 4902) throw err;
      await this.active.provider.request({
        method: 'wallet_addEthereumChain',
        params: [{ chainId, chainName: `fqai chain ${this.chain.chainId}`, rpcUrls: [this.config.rpcUrl], nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 } }],
      });
    }
    this.update({ chainId: Number(await this.active.provider.request({ method: 'eth_chainId' })) });
  }

  renderBanner() {
    clear(this.bannerRoot);
    if (this.wrongNetwork) {
      const status = h('span', { class: 'banner-status', role: 'status' });
      this.bannerRoot.append(h('div', { class: 'banner warn', role: 'alert', 'data-testid': 'wrong-network' },
        h('strong', {}, 'Wrong network. '),
        `Your wallet is on chain ${this.active.chainId}; this marketplace is deployed on chain ${this.chain.chainId}. `,
        h('button', { type: 'button', onclick: () => this.switchNetwork().catch((e) => { status.textContent = `Could not switch: ${e.message}`; }) }, `Switch to chain ${this.chain.chainId}`),
        status));
    }
    if (this.active?.dev) {
      this.bannerRoot.append(h('div', { class: 'banner dev', role: 'note' },
        h('strong', {}, 'Local dev chain: '),
        `transactions are sent from ${this.active.address}, an account the local node holds unlocked. Never use this outside a development chain.`));
    }
  }

  render() {
    this.renderBanner();
    if (this.active) {
      clear(this.root,
        h('p', { class: 'account', 'data-testid': 'account' }, h('span', { class: 'muted' }, `${this.active.label}: `), h('code', { title: this.active.address }, shortHex(this.active.address, 8))),
        h('button', { type: 'button', onclick: () => this.disconnect() }, 'Disconnect'));
      return;
    }
    const buttons = this.candidates().map((c) => h('button', { type: 'button', onclick: () => this.connect(c).catch((e) => this.fail(e)) }, `Connect ${c.label}`));
    const parts = [...buttons];
    if (!buttons.length) parts.push(h('p', { class: 'muted' }, 'No browser wallet found.'));
    if (this.devAvailable) {
      const select = h('select', { id: 'dev-account', 'aria-describedby': 'dev-note' });
      const form = h('form', { class: 'dev-form', onsubmit: (e) => { e.preventDefault(); this.connectDev(select.value); } },
        h('label', { for: 'dev-account' }, 'Dev account (local chain only)'), select,
        h('button', { type: 'submit' }, 'Use dev account'),
        h('small', { id: 'dev-note', class: 'muted' }, 'Unlocked accounts of the local node — development only.'));
      this.chain.provider.send('eth_accounts', []).then((accounts) => {
        accounts.map((a) => getAddress(a)).forEach((a, i) => select.append(h('option', { value: a }, `#${i} ${shortHex(a, 8)}`)));
      }).catch(() => form.remove());
      parts.push(form);
    }
    parts.push(h('p', { class: 'error', role: 'alert', id: 'wallet-error' }));
    clear(this.root, ...parts);
  }

  fail(err) {
    const el = this.root.querySelector('#wallet-error');
    if (el) el.textContent = `Wallet: ${err?.message ?? err}`;
  }
}
