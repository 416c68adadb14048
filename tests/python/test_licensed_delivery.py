"""Licensed delivery end to end on a real Anvil and IPFS node, and every refusal on the way.

An owner publishes a trained breast-cancer MLP licensed-only (weights pinned AES-256-GCM
encrypted, the manifest describing the ciphertext), mints it and offers licences. A licensee
pins its ML-KEM-768 key and buys a licence; the owner's key service wraps the content key to it
and records the wrapped key's CID on-chain; the licensee fetches, decrypts, verifies and
evaluates the model. Then: no second delivery (also after a restart), a stranger, an expired
licence, a licensee whose key is not on IPFS yet, a wrong ML-KEM key, a tampered wrapped key or
ciphertext, and a wrapped key replayed for another token are each refused with a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fqai.chain import KeySender
from fqai.chain.client import ChainClient
from fqai.chain.marketplace import LicenseOffer, Marketplace
from fqai.chain.registry import MintParams
from fqai.crypto import mlkem
from fqai.delivery.content import DecryptionError, decrypt_weights, new_content_key
from fqai.delivery.keys import ContentKeyStore
from fqai.delivery.keyservice import KeyService
from fqai.delivery.licensee import (
    buy_license,
    evaluate_weights,
    fetch_licensed_model,
    publish_kem_key,
)
from fqai.delivery.wrap import KeyDeliveryError, parse_wrapped_key
from fqai.devnet.ipfs_node import IpfsNode
from fqai.errors import EncryptedWeightsError, SignatureError
from fqai.federation import task
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.keystore.sealed import ScryptParams
from fqai.manifest.model import ModelSpec
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.trust.publish import publish_artifact
from fqai.weights import load_bytes, save_weights
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import DeployedChain, deployed_chain  # noqa: F401

PRICE = 10**15
FAST = ScryptParams(n=2**10)
CANCER_MLP = ModelSpec(name=task.MODEL_NAMES["breast_cancer"], params={"dataset": "breast_cancer"})


@dataclass
class Market:
    chain: DeployedChain
    ipfs_api: str
    owner: NodeIdentity
    owner_chain: ChainClient
    keys: ContentKeyStore
    token: int
    other_token: int
    base: Path

    def client(self, identity: NodeIdentity) -> ChainClient:
        return self.chain.client(None).with_sender(KeySender(identity.eth_private_key))

    def service(self, ipfs: IpfsClient) -> KeyService:
        return KeyService(self.owner_chain, ipfs, self.owner, self.keys)


def trained_weights(path: Path) -> None:
    data = task.load_dataset("breast_cancer")
    model = task.build_model("breast_cancer", seed=3)
    task.train(model, data.x_train, data.y_train, epochs=5, lr=0.05)
    save_weights(task.get_weights(model), path)


def publish_licensed(market: Market, ipfs: IpfsClient, weights: Path) -> int:
    key = new_content_key()
    published = publish_artifact(
        ipfs, market.owner, weights, kind="published-model", federation_id=0, round=0,
        model=CANCER_MLP, content_key=key,
    )  # fmt: skip
    market.keys.put(published.manifest_cid, key)
    nft = Marketplace(market.owner_chain)
    return nft.mint(
        market.owner.public.eth_address,
        MintParams(
            manifest_cid=published.manifest_cid,
            weights_digest=published.manifest.weights.sha256,
            signer_key_digest=market.owner.public.mldsa_key_digest,
            royalty_receiver=market.owner.public.eth_address,
        ),
    )


@pytest.fixture(scope="module")
def market(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Market]:
    base = tmp_path_factory.mktemp("delivery")
    owner = make_identity(base / "keys" / "owner")
    funder = deployed_chain.client(5)
    funder.send_ether(owner.public.eth_address, 10**18)
    # The NFT contract's owner (the deployer, dev account 0) lets the publisher mint.
    deployed_chain.client(0).transact("ModelNFT", "setMinter", owner.public.eth_address, True)
    owner_chain = deployed_chain.client(None).with_sender(KeySender(owner.eth_private_key))
    m = Market(
        deployed_chain, ipfs_node.api_address, owner, owner_chain,
        ContentKeyStore(base / "content-keys", PASSPHRASE, FAST), 0, 0, base,
    )  # fmt: skip
    weights = base / "model.safetensors"
    trained_weights(weights)
    with IpfsClient(ipfs_node.api_address) as ipfs:
        m.token = publish_licensed(m, ipfs, weights)
        m.other_token = publish_licensed(m, ipfs, weights)
        terms = ipfs.add_bytes(b"test licence: evaluation only, no redistribution\n")
    seller = Marketplace(owner_chain)
    for token in (m.token, m.other_token):  # offer 0: one hour
        seller.create_license_offer(token, LicenseOffer(PRICE, 3600, terms_cid=terms))
    seller.create_license_offer(m.token, LicenseOffer(PRICE, 30, terms_cid=terms))  # offer 1
    yield m


def new_member(market: Market, name: str) -> NodeIdentity:
    identity = make_identity(market.base / "keys" / name)
    market.chain.client(5).send_ether(identity.public.eth_address, 10**17)
    return identity


def test_licensed_only_manifest_describes_the_ciphertext(market: Market) -> None:
    with IpfsClient(market.ipfs_api) as ipfs:
        prov_cid = market.owner_chain.call("ModelNFT", "provenance", market.token)[0]
        manifest = fetch_verified_manifest(ipfs, prov_cid).manifest
        enc = manifest.weights.encryption
        assert enc is not None and enc.scheme == "AES-256-GCM"
        blob = ipfs.cat(manifest.weights.cid, max_size=manifest.weights.size)
    # Anyone can check the ciphertext against the signed manifest; nobody can read it.
    assert "0x" + hashlib.sha256(blob).hexdigest() == manifest.weights.sha256
    assert enc.plaintext_sha256 != manifest.weights.sha256
    assert b"__metadata__" not in blob and b"fc1" not in blob
    with (
        IpfsClient(market.ipfs_api) as ipfs,
        pytest.raises(EncryptedWeightsError, match="licensed"),
    ):
        fetch_weights_bytes(ipfs, manifest)


def test_publish_buy_deliver_fetch_eval(market: Market) -> None:
    licensee = new_member(market, "licensee")
    chain = market.client(licensee)
    with IpfsClient(market.ipfs_api) as ipfs:
        purchase = buy_license(chain, ipfs, licensee, market.token, 0, PRICE)
        with pytest.raises(KeyDeliveryError, match="no key delivered yet"):
            fetch_licensed_model(chain, ipfs, licensee, market.token, market.base / "early")

        outcomes = market.service(ipfs).run_once()
        mine = [o for o in outcomes if o.licensee == licensee.public.eth_address]
        assert [o.status for o in mine] == ["delivered"]
        # Never twice: the same service again, and a restarted one, skip it.
        for service in (market.service(ipfs), market.service(ipfs)):
            again = [o for o in service.run_once() if o.licensee == licensee.public.eth_address]
            assert [o.status for o in again] == ["skipped"]
        deliveries = Marketplace(chain).key_deliveries(licensee=licensee.public.eth_address)
        assert [d.license_id for d in deliveries] == [purchase.license_id]

        fetched = fetch_licensed_model(
            chain, ipfs, licensee, market.token, market.base / "licensee.safetensors"
        )
    assert fetched.license_id == purchase.license_id
    data = fetched.path.read_bytes()
    assert "0x" + hashlib.sha256(data).hexdigest() == fetched.manifest.weights.info.sha256
    weights = load_bytes(data, fetched.manifest.weights.info, "fetched")
    evaluation = evaluate_weights(fetched.manifest, weights)
    assert evaluation.dataset == "breast_cancer" and evaluation.samples > 100
    assert evaluation.accuracy > 0.9


def test_renewal_with_the_same_key_is_not_delivered_again(market: Market) -> None:
    licensee = new_member(market, "renewer")
    chain = market.client(licensee)
    with IpfsClient(market.ipfs_api) as ipfs:
        buy_license(chain, ipfs, licensee, market.token, 0, PRICE)
        market.service(ipfs).run_once()
        renewal = buy_license(chain, ipfs, licensee, market.token, 0, PRICE)
        outcomes = [
            o for o in market.service(ipfs).run_once()
            if o.licensee == licensee.public.eth_address
        ]  # fmt: skip
        assert [(o.status, o.license_id) for o in outcomes] == [("skipped", renewal.license_id)]
        assert "renewal" in outcomes[0].detail
        # The key delivered for the first licence still opens the model.
        fetched = fetch_licensed_model(chain, ipfs, licensee, market.token, market.base / "r")
    assert fetched.license_id == renewal.license_id - 1


def test_stranger_without_licence_is_refused(market: Market) -> None:
    stranger = new_member(market, "stranger")
    with IpfsClient(market.ipfs_api) as ipfs, pytest.raises(KeyDeliveryError, match="no valid"):
        fetch_licensed_model(
            market.client(stranger), ipfs, stranger, market.token, market.base / "s"
        )


def test_expired_licence_gets_no_key(market: Market) -> None:
    licensee = new_member(market, "late")
    chain = market.client(licensee)
    with IpfsClient(market.ipfs_api) as ipfs:
        buy_license(chain, ipfs, licensee, market.token, 1, PRICE)  # 30 s licence
        w3 = chain.w3
        w3.provider.make_request("evm_increaseTime", [120])
        w3.provider.make_request("evm_mine", [])
        outcomes = [
            o for o in market.service(ipfs).run_once()
            if o.licensee == licensee.public.eth_address
        ]  # fmt: skip
        assert [o.status for o in outcomes] == ["refused"]
        assert "expired" in outcomes[0].detail
        with pytest.raises(KeyDeliveryError, match=r"no valid licence .*expired at"):
            fetch_licensed_model(chain, ipfs, licensee, market.token, market.base / "late")


def test_licensee_key_not_on_ipfs_waits(market: Market) -> None:
    licensee = new_member(market, "shy")
    chain = market.client(licensee)
    Marketplace(chain).buy_license(market.token, 0, licensee.public.mlkem_key_digest, PRICE)
    with IpfsClient(market.ipfs_api, timeout=2, retries=0) as ipfs:
        service = KeyService(market.owner_chain, ipfs, market.owner, market.keys)
        waiting = [o for o in service.run_once() if o.licensee == licensee.public.eth_address]
        assert [o.status for o in waiting] == ["waiting"] and "not on IPFS" in waiting[0].detail
        publish_kem_key(ipfs, licensee)
        done = [o for o in service.run_once() if o.licensee == licensee.public.eth_address]
        assert [o.status for o in done] == ["delivered"]


def test_wrong_kem_key_and_tampered_or_replayed_records_are_refused(market: Market) -> None:
    licensee = new_member(market, "careful")
    chain = market.client(licensee)
    with IpfsClient(market.ipfs_api) as ipfs:
        buy_license(chain, ipfs, licensee, market.token, 0, PRICE)
        buy_license(chain, ipfs, licensee, market.other_token, 0, PRICE)
        market.service(ipfs).run_once()
        dest = market.base / "careful.safetensors"

        # A keystore whose ML-KEM key is not the one the licence was bought with.
        other = dataclasses.replace(licensee, mlkem=mlkem.generate())
        with pytest.raises(KeyDeliveryError, match=r"ML-KEM key .* is not the one the licence"):
            fetch_licensed_model(chain, ipfs, other, market.token, dest)

        market_view = Marketplace(chain)
        (delivery,) = market_view.key_deliveries(
            token_id=market.token, licensee=licensee.public.eth_address
        )
        record = ipfs.cat(delivery.wrapped_key_cid, max_size=65536)

        # A flipped byte in the wrapped key: the signature no longer verifies.
        doc = json.loads(record)
        wrapped = bytearray(doc["wrapped_key"]["wrapped_key"].encode())
        wrapped[5] = ord("A") if wrapped[5] != ord("A") else ord("B")
        doc["wrapped_key"]["wrapped_key"] = wrapped.decode()
        with pytest.raises(SignatureError, match="does not verify"):
            parse_wrapped_key(json.dumps(doc).encode())

        # The owner (or anyone it fools) records token A's wrapped key for token B: refused.
        (other_delivery,) = market_view.key_deliveries(
            token_id=market.other_token, licensee=licensee.public.eth_address
        )
        assert other_delivery.wrapped_key_cid != delivery.wrapped_key_cid
        replay_target = new_member(market, "replayed")
        replay_chain = market.client(replay_target)
        buy_license(replay_chain, ipfs, replay_target, market.other_token, 0, PRICE)
        lic = Marketplace(replay_chain).license_of(
            market.other_token, replay_target.public.eth_address
        )
        Marketplace(market.owner_chain).deliver_key(
            market.other_token, replay_target.public.eth_address, lic.license_id,
            delivery.wrapped_key_cid,
        )  # fmt: skip
        with pytest.raises(KeyDeliveryError, match="wrapped key is for token id"):
            fetch_licensed_model(replay_chain, ipfs, replay_target, market.other_token, dest)
        assert not dest.exists()  # nothing written on any refusal


def test_tampered_ciphertext_fails_authentication(market: Market) -> None:
    key = new_content_key()
    weights = market.base / "model.safetensors"
    with IpfsClient(market.ipfs_api) as ipfs:
        published = publish_artifact(
            ipfs, market.owner, weights, kind="published-model", federation_id=0, round=0,
            model=ModelSpec(name="fqai.cancer-mlp", params={"dataset": "breast_cancer"}),
            content_key=key,
        )  # fmt: skip
        ref = published.manifest.weights
        blob = bytearray(ipfs.cat(ref.cid, max_size=ref.size))
    plain = ref.encryption
    assert plain is not None
    original = bytes(blob)
    assert len(decrypt_weights(original, key, plain.plaintext_sha256)) == plain.plaintext_size
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt_weights(original, new_content_key(), plain.plaintext_sha256)  # wrong key
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt_weights(original, key, "0x" + "11" * 32)  # another model's digest
    blob[len(blob) // 2] ^= 1
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt_weights(bytes(blob), key, plain.plaintext_sha256)


def test_content_key_store_refuses_a_renamed_file(market: Market, tmp_path: Path) -> None:
    store = ContentKeyStore(tmp_path, PASSPHRASE, FAST)
    a = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    b = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    key = np.random.default_rng(0).bytes(32)
    store.put(a, key)
    assert ContentKeyStore(tmp_path, PASSPHRASE, FAST).get(a) == key
    store.path(a).rename(store.path(b))
    with pytest.raises(KeyDeliveryError, match="holds the key of"):
        ContentKeyStore(tmp_path, PASSPHRASE, FAST).get(b)
    with pytest.raises(KeyDeliveryError, match="no content key"):
        ContentKeyStore(tmp_path, PASSPHRASE, FAST).get(a)
