import './style.css';
import { h, clear } from './dom.js';
import { loadConfig } from './config.js';
import { makeChain } from './chain.js';
import { Wallet } from './wallet.js';
import { renderCatalogue } from './views/catalogue.js';
import { renderModel } from './views/model.js';
import { renderAccount } from './views/account.js';
import { renderFederations, renderFederation } from './views/federation.js';

const main = document.getElementById('main');
const banners = document.getElementById('banners');

function fatal(message) {
  clear(main, h('h1', {}, 'Cannot start'), h('p', { class: 'error', role: 'alert' }, message));
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    fatal(`${err.message}. The server must provide config.json (see frontend/README.md).`);
    return;
  }
  const chain = makeChain(config);
  const nodeBanner = h('div', {});
  banners.before(nodeBanner);
  try {
    const id = Number(await chain.provider.send('eth_chainId', []));
    if (id !== chain.chainId) {
      nodeBanner.append(h('div', { class: 'banner warn', role: 'alert' }, `The RPC node ${config.rpcUrl} is chain ${id}, but the deployment record is for chain ${chain.chainId}.`));
    }
  } catch (err) {
    fatal(`The RPC node ${config.rpcUrl} does not answer (${err.shortMessage ?? err.message}).`);
    return;
  }
  const wallet = new Wallet(config, chain, document.getElementById('wallet'), banners);
  let cleanup = () => {};
  const route = async () => {
    cleanup();
    cleanup = () => {};
    const hash = window.location.hash;
    const model = /^#\/model\/(\d+)$/.exec(hash);
    const federation = /^#\/federation\/(\d+)$/.exec(hash);
    try {
      if (model) cleanup = (await renderModel(main, config, chain, wallet, model[1])) ?? cleanup;
      else if (federation) cleanup = (await renderFederation(main, config, chain, federation[1])) ?? cleanup;
      else if (hash === '#/federations') cleanup = (await renderFederations(main, config, chain)) ?? cleanup;
      else if (hash === '#/account') cleanup = (await renderAccount(main, config, chain, wallet)) ?? cleanup;
      else await renderCatalogue(main, config, chain);
    } catch (err) {
      clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, err.shortMessage ?? err.message));
    }
    document.title = `${main.querySelector('h1')?.textContent ?? 'fqai'} · fqai models`;
  };
  window.addEventListener('hashchange', () => { route(); main.focus(); });
  await route();
  document.body.dataset.ready = 'true';
}

start();
