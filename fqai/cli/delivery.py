"""``fqai model``, ``fqai license`` and ``fqai keyservice``: licensed models from publish to use.

* ``fqai model publish``: pin a safetensors model with a signed manifest, licensed-only
  (encrypted; the content key sealed in ``--content-keys``) unless ``--public``; mint its NFT.
* ``fqai license offer`` / ``fqai license buy``: create a licence offer; buy a licence after
  pinning the buyer's ML-KEM-768 public key.
* ``fqai keyservice run``: the owner's long-running key service.
* ``fqai model fetch`` / ``fqai model eval``: the licensee's decrypted, verified model and its
  accuracy on the held-out split (``eval`` also takes public model tokens, and runs a quantum
  model exactly, with shots and on a noisy fake IBM device).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fqai.cli._common import (
    IpfsApiOption,
    KeystoreOption,
    PassphraseFileOption,
    console,
    default_keystore,
    report_errors,
)
from fqai.cli.federation import DeploymentsOption, RpcOption, rpc_url, unlock

if TYPE_CHECKING:
    from fqai.chain import ChainClient
    from fqai.keystore import NodeIdentity

ContentKeysOption = Annotated[
    Path | None,
    typer.Option(
        "--content-keys",
        help="Directory of sealed content keys (default: <keystore>/content-keys).",
        show_default=False,
    ),
]


DEFAULT_TERMS = b"fqai licence: use of the model while the licence is valid; no redistribution.\n"


def _chain(identity: NodeIdentity, rpc: str | None, deployments: Path | None) -> ChainClient:
    from fqai.chain import ChainClient, KeySender

    return ChainClient.from_rpc(
        rpc_url(rpc), KeySender(identity.eth_private_key), deployments_dir=deployments
    )


def _passphrase(passphrase_file: Path | None) -> str:
    from fqai.keystore import read_passphrase

    return read_passphrase(passphrase_file)


def register(root: typer.Typer) -> None:
    model = typer.Typer(help="Publish licensed models; fetch and evaluate licensed models.")
    license_ = typer.Typer(help="Offer and buy time-limited model licences.")
    keyservice = typer.Typer(help="The model owner's key service.")
    root.add_typer(model, name="model")
    root.add_typer(license_, name="license")
    root.add_typer(keyservice, name="keyservice")

    @model.command("publish")
    @report_errors
    def publish(
        weights: Annotated[Path, typer.Argument(help="safetensors file", exists=True)],
        name: Annotated[
            str, typer.Option(help="Model name, e.g. fqai.cancer-mlp (implied by --model quantum).")
        ] = "",
        dataset: Annotated[str, typer.Option(help="Dataset the model is evaluated on.")] = "",
        model_setting: Annotated[
            str,
            typer.Option(
                "--model",
                help="quantum[:key=value,...]: a hybrid quantum classifier; its circuit, "
                "features and spec go into the manifest (needs --dataset).",
            ),
        ] = "",
        data_seed: Annotated[int, typer.Option(help="Data seed of the quantum model.")] = 0,
        public: Annotated[
            bool, typer.Option("--public", help="Pin the weights in the clear.")
        ] = False,
        parent: Annotated[
            list[str] | None, typer.Option(help="Manifest CID this model derives from.")
        ] = None,
        parent_token: Annotated[
            int, typer.Option(help="Token of the model this one derives from (0: none).")
        ] = 0,
        mint: Annotated[bool, typer.Option(help="Mint the model NFT to the publisher.")] = True,
        royalty_bps: Annotated[int, typer.Option(help="ERC-2981 royalty (basis points).")] = 0,
        content_keys: ContentKeysOption = None,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Publish a model (licensed-only by default) and mint its NFT."""
        from fqai.chain.marketplace import Marketplace
        from fqai.chain.registry import MintParams
        from fqai.delivery.content import new_content_key
        from fqai.delivery.keys import ContentKeyStore
        from fqai.ipfs.client import IpfsClient, resolve_api_address
        from fqai.keystore import Keystore
        from fqai.manifest.model import ModelSpec
        from fqai.trust.publish import publish_artifact

        passphrase = _passphrase(passphrase_file)
        store_dir = keystore or default_keystore()
        identity = Keystore(store_dir).unlock(passphrase)
        key = None if public else new_content_key()
        if model_setting:
            from fqai.federation import task

            if not dataset:
                raise task.TaskError("--model needs --dataset")
            quantum = task.model_name(dataset, model_setting)
            if name and name != quantum:
                raise task.TaskError(f"a quantum model is named {quantum}, not {name}")
            spec = ModelSpec(
                name=quantum, params=task.model_params(dataset, model_setting, data_seed)
            )
        elif not name:
            raise typer.BadParameter("--name is required (unless --model quantum)")
        else:
            spec = ModelSpec(name=name, params={"dataset": dataset} if dataset else {})
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            published = publish_artifact(
                ipfs, identity, weights, kind="published-model", federation_id=0, round=0,
                model=spec, parents=tuple(parent or ()), content_key=key,
            )  # fmt: skip
        if key is not None:
            keys = ContentKeyStore(content_keys or store_dir / "content-keys", passphrase)
            path = keys.put(published.manifest_cid, key)
            console.print(f"content key sealed in {path}")
        out: dict[str, object] = {
            "manifest_cid": published.manifest_cid,
            "licensed_only": key is not None,
        }
        if mint:
            chain = _chain(identity, rpc, deployments_dir)
            out["token_id"] = Marketplace(chain).mint(
                chain.address,
                MintParams(
                    manifest_cid=published.manifest_cid,
                    weights_digest=published.manifest.weights.sha256,
                    signer_key_digest=identity.public.mldsa_key_digest,
                    royalty_receiver=chain.address,
                    royalty_bps=royalty_bps,
                    parent_token_id=parent_token,
                ),
            )
        console.print(
            f"published {'licensed-only' if key else 'public'} model {published.manifest_cid}"
            + (f", token {out['token_id']}" if mint else "")
        )
        typer.echo(json.dumps(out))

    @license_.command("offer")
    @report_errors
    def offer(
        token_id: Annotated[int, typer.Argument(help="Model token.")],
        price: Annotated[float, typer.Option(help="Price per licence (ETH).")],
        duration_days: Annotated[float, typer.Option(help="Licence duration (days).")] = 30,
        seats: Annotated[int, typer.Option(help="Licences on sale (0 = unlimited).")] = 0,
        terms: Annotated[
            Path | None, typer.Option(help="Terms document to pin.", exists=True)
        ] = None,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Create a licence offer on a token you own."""
        from fqai.chain.marketplace import LicenseOffer, Marketplace
        from fqai.ipfs.client import IpfsClient, resolve_api_address

        identity = unlock(keystore, passphrase_file)
        text = (
            terms.read_bytes() if terms else b"fqai licence: use of the model; no redistribution.\n"
        )
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            terms_cid = ipfs.add_bytes(text)
        chain = _chain(identity, rpc, deployments_dir)
        offer_id = Marketplace(chain).create_license_offer(
            token_id,
            LicenseOffer(
                price=int(price * 10**18),
                duration=int(duration_days * 86_400),
                max_seats=seats,
                terms_cid=terms_cid,
            ),
        )
        console.print(f"offer {offer_id} on token {token_id}; terms {terms_cid}")
        typer.echo(json.dumps({"token_id": token_id, "offer_id": offer_id, "terms": terms_cid}))

    @license_.command("buy")
    @report_errors
    def buy(
        token_id: Annotated[int, typer.Argument(help="Model token.")],
        offer_id: Annotated[int, typer.Option("--offer", help="Offer id.")] = 0,
        max_price: Annotated[float, typer.Option(help="Most you will pay (ETH).")] = 1.0,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Pin your ML-KEM-768 public key and buy a licence bound to it."""
        from fqai.delivery.licensee import buy_license
        from fqai.ipfs.client import IpfsClient, resolve_api_address

        identity = unlock(keystore, passphrase_file)
        chain = _chain(identity, rpc, deployments_dir)
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            purchase = buy_license(
                chain, ipfs, identity, token_id, offer_id, int(max_price * 10**18)
            )
        expiry = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(purchase.expires_at))
        console.print(
            f"licence {purchase.license_id} on token {token_id} until {expiry}; ML-KEM key "
            f"{identity.public.mlkem_key_digest}"
        )
        typer.echo(
            json.dumps(
                {
                    "license_id": purchase.license_id,
                    "expires_at": purchase.expires_at,
                    "tx": purchase.tx.tx_hash,
                }
            )
        )

    @keyservice.command("run")
    @report_errors
    def run(
        token: Annotated[
            list[int] | None, typer.Option(help="Serve only these tokens (default: all owned).")
        ] = None,
        interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 5.0,
        once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
        content_keys: ContentKeysOption = None,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Deliver the content key of every valid licence once (state from chain + IPFS)."""
        import signal

        from fqai.delivery.keys import ContentKeyStore
        from fqai.delivery.keyservice import KeyService
        from fqai.ipfs.client import IpfsClient, resolve_api_address
        from fqai.keystore import Keystore

        passphrase = _passphrase(passphrase_file)
        store_dir = keystore or default_keystore()
        identity = Keystore(store_dir).unlock(passphrase)
        keys = ContentKeyStore(content_keys or store_dir / "content-keys", passphrase)
        chain = _chain(identity, rpc, deployments_dir)
        with IpfsClient(resolve_api_address(ipfs_api), timeout=10, retries=0) as ipfs:
            service = KeyService(chain, ipfs, identity, keys, set(token) if token else None)
            if once:
                _print_outcomes(service.run_once())
                return
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            console.print(
                f"key service for {chain.address} running (every {interval:g} s); Ctrl-C stops"
            )
            try:
                while not stop.is_set():
                    with console.status("checking licences ..."):
                        outcomes = service.run_once()
                    _print_outcomes(outcomes)
                    stop.wait(interval)
            except KeyboardInterrupt:
                pass
            console.print("key service stopped")

    @model.command("fetch")
    @report_errors
    def fetch(
        token_id: Annotated[int, typer.Argument(help="Licensed model token.")],
        out: Annotated[Path, typer.Option(help="Where to write the decrypted safetensors.")],
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Unwrap your delivered key, decrypt and verify the model, write it to --out."""
        from fqai.delivery.licensee import fetch_licensed_model
        from fqai.ipfs.client import IpfsClient, resolve_api_address

        identity = unlock(keystore, passphrase_file)
        chain = _chain(identity, rpc, deployments_dir)
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            fetched = fetch_licensed_model(chain, ipfs, identity, token_id, out)
        console.print(
            f"token {token_id}: verified model {fetched.manifest_cid} decrypted to {fetched.path}"
        )
        typer.echo(json.dumps({"path": str(fetched.path), "license_id": fetched.license_id}))

    @model.command("eval")
    @report_errors
    def evaluate(
        token_id: Annotated[int, typer.Argument(help="Model token.")],
        weights: Annotated[
            Path | None, typer.Option(help="Where to keep the verified (decrypted) weights.")
        ] = None,
        shots: Annotated[
            int, typer.Option(help="Quantum models: shots on Aer and on the fake device.")
        ] = 1024,
        fake_device: Annotated[
            str,
            typer.Option(
                help="Quantum models: local noisy fake IBM device (auto: manila up to 5 "
                "qubits, else toronto)."
            ),
        ] = "auto",
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Accuracy of a model token on its dataset's held-out split: a licensed model is
        fetched with your licence, a public one (a federation's) verified and fetched; a
        quantum model runs exactly on Aer, with --shots on Aer and on a noisy fake device."""
        import tempfile

        from fqai.chain import ChainClient
        from fqai.delivery.licensee import (
            evaluate_weights,
            fetch_licensed_model,
            fetch_public_model,
        )
        from fqai.fsutil import write_bytes_atomic
        from fqai.ipfs.client import IpfsClient, resolve_api_address
        from fqai.weights import load_bytes

        reader = ChainClient.from_rpc(rpc_url(rpc), deployments_dir=deployments_dir)
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs, tempfile.TemporaryDirectory() as t:
            public = fetch_public_model(reader, ipfs, token_id)
            if public is not None:
                manifest, tensors, data = public
                if weights is not None:
                    write_bytes_atomic(weights, data, 0o600)
            else:
                identity = unlock(keystore, passphrase_file)
                chain = _chain(identity, rpc, deployments_dir)
                fetched = fetch_licensed_model(
                    chain, ipfs, identity, token_id, weights or Path(t) / "model.safetensors"
                )
                manifest = fetched.manifest
                tensors = load_bytes(
                    fetched.path.read_bytes(), manifest.weights.info, f"token {token_id}"
                )
        result = evaluate_weights(manifest, tensors, shots=shots, fake_device=fake_device)
        console.print(
            f"token {token_id} ({manifest.model.name}): accuracy {result.accuracy:.4f}, "
            f"loss {result.loss:.4f} on {result.samples} held-out {result.dataset} samples"
        )
        for run in result.backends:
            figures = run.circuit
            console.print(
                f"  {run.mode:<6} {run.backend}"
                + (f" ({run.shots} shots)" if run.shots else " (exact)")
                + f": accuracy {run.accuracy:.4f}, loss {run.loss:.4f}; circuit depth "
                f"{figures.get('depth', '-')}, {figures.get('two_qubit_gates', '-')} two-qubit "
                f"gates; {run.seconds:.1f} s",
                highlight=False,
            )
        out: dict[str, object] = {
            "token_id": token_id,
            "dataset": result.dataset,
            "family": result.family,
            "accuracy": result.accuracy,
            "loss": result.loss,
            "samples": result.samples,
        }
        if result.backends:
            out["backends"] = [dataclasses.asdict(run) for run in result.backends]
        typer.echo(json.dumps(out))


def _print_outcomes(outcomes: list) -> None:  # type: ignore[type-arg]
    for o in outcomes:
        if o.status == "skipped":
            continue
        colour = {"delivered": "green", "refused": "red", "waiting": "yellow"}[o.status]
        console.print(
            f"[{colour}]{o.status}[/]: licence {o.license_id} (token {o.token_id}, "
            f"{o.licensee}): {o.detail}"
        )
