"""ModelNFT: minters, the federation registry, minting with provenance, views, ERC-165/2981 and
two-step ownership."""

from __future__ import annotations

from functools import reduce

import brownie
import pytest
from brownie import ModelNFT, web3
from conftest import ZERO, bare_err, err, mint_params, run_round

MAX_ROYALTY_BPS = 1_000
MAX_CID_LENGTH = 128
ROYALTY_DENOMINATOR = 10_000
MINT_PARAMS_TYPE = "(string,bytes32,bytes32,uint64,uint32,uint256,address,uint96)"
ZERO_DIGEST = "0x" + "00" * 32


def selector(signature: str) -> int:
    return int.from_bytes(web3.keccak(text=signature)[:4], "big")


def interface_id(*signatures: str) -> str:
    """ERC-165 interface id: XOR of the function selectors."""
    return f"0x{reduce(lambda a, b: a ^ b, (selector(s) for s in signatures)):08x}"


ERC165_ID = interface_id("supportsInterface(bytes4)")
ERC721_ID = interface_id(
    "balanceOf(address)",
    "ownerOf(uint256)",
    "safeTransferFrom(address,address,uint256,bytes)",
    "safeTransferFrom(address,address,uint256)",
    "transferFrom(address,address,uint256)",
    "approve(address,uint256)",
    "setApprovalForAll(address,bool)",
    "getApproved(uint256)",
    "isApprovedForAll(address,address)",
)
ERC721_METADATA_ID = interface_id("name()", "symbol()", "tokenURI(uint256)")
ERC2981_ID = interface_id("royaltyInfo(uint256,uint256)")
IMODELNFT_ID = interface_id(
    f"mint(address,{MINT_PARAMS_TYPE})",
    "provenance(uint256)",
    "federationOf(uint256)",
    "isMinter(address)",
    "totalMinted()",
)
ERC721_ENUMERABLE_ID = interface_id(
    "totalSupply()", "tokenOfOwnerByIndex(address,uint256)", "tokenByIndex(uint256)"
)


def with_field(params: tuple, index: int, value) -> tuple:
    """`params` with field `index` replaced."""
    items = list(params)
    items[index] = value
    return tuple(items)


@pytest.fixture(scope="module")
def holder(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[6]


@pytest.fixture
def registry_account(accounts, nft, owner):
    """An EOA made the federation registry, so tests can call mint as the registry directly."""
    nft.setFederationRegistry(accounts[7], {"from": owner})
    return accounts[7]


# ----------------------------------------------------------------------------------- deployment


def test_deployment_sets_name_symbol_owner_and_registry(nft, registry, owner):
    assert nft.name() == "fqai Model"
    assert nft.symbol() == "FQAIM"
    assert nft.owner() == owner
    assert nft.federationRegistry() == registry
    assert nft.isMinter(registry)
    assert nft.MAX_ROYALTY_BPS() == MAX_ROYALTY_BPS
    assert nft.MAX_CID_LENGTH() == MAX_CID_LENGTH


def test_owner_is_not_a_minter_by_default(nft, owner, holder):
    with brownie.reverts(err("ModelNFTUnauthorizedMinter", owner)):
        nft.mint(holder, mint_params(), {"from": owner})


# ------------------------------------------------------------------------------------ setMinter


def test_set_minter_authorises_account_and_emits_event(nft, owner, stranger, holder):
    # Execute
    tx = nft.setMinter(stranger, True, {"from": owner})

    # Assert
    assert nft.isMinter(stranger)
    assert tx.events["MinterUpdated"]["account"] == stranger
    assert tx.events["MinterUpdated"]["allowed"] is True
    token_id = nft.mint(holder, mint_params(), {"from": stranger}).return_value
    assert nft.ownerOf(token_id) == holder


def test_set_minter_false_revokes_minting(nft, owner, publisher, holder):
    # Execute
    tx = nft.setMinter(publisher, False, {"from": owner})

    # Assert
    assert not nft.isMinter(publisher)
    assert tx.events["MinterUpdated"]["account"] == publisher
    assert tx.events["MinterUpdated"]["allowed"] is False
    with brownie.reverts(err("ModelNFTUnauthorizedMinter", publisher)):
        nft.mint(holder, mint_params(), {"from": publisher})


def test_set_minter_reverts_for_zero_address(nft, owner):
    with brownie.reverts(bare_err("ModelNFTZeroAddress")):
        nft.setMinter(ZERO, True, {"from": owner})


def test_set_minter_reverts_when_caller_is_not_owner(nft, stranger):
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        nft.setMinter(stranger, True, {"from": stranger})
    assert not nft.isMinter(stranger)


# ------------------------------------------------------------------------ setFederationRegistry


def test_set_federation_registry_first_time_emits_events(owner, accounts):
    # Prepare: a fresh NFT without a registry
    fresh = ModelNFT.deploy(owner, {"from": owner})
    assert fresh.federationRegistry() == ZERO

    # Execute
    tx = fresh.setFederationRegistry(accounts[7], {"from": owner})

    # Assert: only the new registry is announced (no previous one to revoke)
    assert fresh.federationRegistry() == accounts[7]
    assert fresh.isMinter(accounts[7])
    assert tx.events["FederationRegistryUpdated"]["registry"] == accounts[7]
    assert len(tx.events["MinterUpdated"]) == 1
    assert tx.events["MinterUpdated"]["account"] == accounts[7]
    assert tx.events["MinterUpdated"]["allowed"] is True


def test_set_federation_registry_replaces_previous_registry_and_revokes_its_minting(
    nft, registry, owner, accounts, federation, coordinator, nodes
):
    # Prepare: a finalised round, so the old registry could mint a model
    run_round(registry, federation, coordinator, nodes)
    new_registry = accounts[8]

    # Execute
    tx = nft.setFederationRegistry(new_registry, {"from": owner})

    # Assert
    assert nft.federationRegistry() == new_registry
    assert nft.isMinter(new_registry)
    assert not nft.isMinter(registry)
    minter_events = tx.events["MinterUpdated"]
    assert len(minter_events) == 2
    assert minter_events[0]["account"] == registry
    assert minter_events[0]["allowed"] is False
    assert minter_events[1]["account"] == new_registry
    assert minter_events[1]["allowed"] is True
    assert tx.events["FederationRegistryUpdated"]["registry"] == new_registry
    with brownie.reverts(err("ModelNFTUnauthorizedMinter", registry)):
        registry.mintModel(federation, accounts[4], mint_params("late"), {"from": coordinator})


def test_set_federation_registry_reverts_for_zero_address(nft, registry, owner):
    with brownie.reverts(bare_err("ModelNFTZeroAddress")):
        nft.setFederationRegistry(ZERO, {"from": owner})
    assert nft.federationRegistry() == registry


def test_set_federation_registry_reverts_when_caller_is_not_owner(nft, registry, stranger):
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        nft.setFederationRegistry(stranger, {"from": stranger})
    assert nft.federationRegistry() == registry


# ----------------------------------------------------------------------------------------- mint


def test_mint_records_provenance_and_emits_events(nft, publisher, holder):
    # Prepare
    params = mint_params("alpha")
    minted_before = nft.totalMinted()
    balance_before = nft.balanceOf(holder)

    # Execute
    tx = nft.mint(holder, params, {"from": publisher})

    # Assert
    token_id = tx.return_value
    assert token_id == minted_before + 1
    assert nft.ownerOf(token_id) == holder
    assert nft.balanceOf(holder) == balance_before + 1
    assert nft.totalMinted() == minted_before + 1
    prov = nft.provenance(token_id).dict()
    assert prov == {
        "manifestCID": params[0],
        "weightsDigest": params[1],
        "signerKeyDigest": params[2],
        "federationId": 0,
        "round": 0,
        "mintedAt": tx.timestamp,
        "parentTokenId": 0,
        "minter": publisher.address,
    }
    minted_event = tx.events["ModelMinted"]
    assert minted_event["tokenId"] == token_id
    assert minted_event["to"] == holder
    assert minted_event["federationId"] == 0
    assert minted_event["round"] == 0
    assert minted_event["manifestCID"] == params[0]
    assert minted_event["weightsDigest"] == params[1]
    assert minted_event["signerKeyDigest"] == params[2]
    assert minted_event["parentTokenId"] == 0
    transfer = tx.events["Transfer"]
    assert transfer["from"] == ZERO
    assert transfer["to"] == holder
    assert transfer["tokenId"] == token_id
    # No royalty requested: none recorded.
    assert tuple(nft.royaltyInfo(token_id, 10**18)) == (ZERO, 0)


def test_mint_assigns_sequential_ids(nft, publisher, holder, stranger):
    first = nft.totalMinted() + 1
    ids = [
        nft.mint(to, mint_params(f"seq{i}"), {"from": publisher}).return_value
        for i, to in enumerate((holder, stranger, holder))
    ]
    assert ids == [first, first + 1, first + 2]
    assert nft.totalMinted() == first + 2
    assert [nft.ownerOf(i) for i in ids] == [holder, stranger, holder]


def test_first_token_id_is_one(owner, publisher, holder):
    fresh = ModelNFT.deploy(owner, {"from": owner})
    fresh.setMinter(publisher, True, {"from": owner})
    assert fresh.totalMinted() == 0
    assert fresh.mint(holder, mint_params(), {"from": publisher}).return_value == 1
    assert fresh.totalMinted() == 1
    with brownie.reverts(err("ERC721NonexistentToken", 0)):
        fresh.ownerOf(0)


def test_mint_reverts_when_caller_is_not_minter(nft, stranger, holder):
    minted_before = nft.totalMinted()
    with brownie.reverts(err("ModelNFTUnauthorizedMinter", stranger)):
        nft.mint(holder, mint_params(), {"from": stranger})
    assert nft.totalMinted() == minted_before


def test_mint_reverts_when_publisher_names_a_federation(nft, publisher, holder):
    with brownie.reverts(err("ModelNFTFederationMintNotAuthorized", publisher, 1)):
        nft.mint(holder, mint_params(federation_id=1, round_=1), {"from": publisher})


def test_mint_reverts_when_round_is_given_without_federation(nft, publisher, holder):
    with brownie.reverts(err("ModelNFTInvalidFederationRound", 0, 3)):
        nft.mint(holder, mint_params(round_=3), {"from": publisher})


def test_mint_reverts_when_registry_names_federation_without_round(nft, registry_account, holder):
    with brownie.reverts(err("ModelNFTInvalidFederationRound", 7, 0)):
        nft.mint(holder, mint_params(federation_id=7), {"from": registry_account})


def test_mint_by_registry_records_federation_and_round(nft, registry_account, holder):
    # Execute
    tx = nft.mint(holder, mint_params("fed", federation_id=7, round_=3), {"from": registry_account})

    # Assert
    token_id = tx.return_value
    assert tuple(nft.federationOf(token_id)) == (7, 3)
    prov = nft.provenance(token_id).dict()
    assert prov["federationId"] == 7
    assert prov["round"] == 3
    assert prov["minter"] == registry_account
    assert tx.events["ModelMinted"]["federationId"] == 7
    assert tx.events["ModelMinted"]["round"] == 3


def test_mint_through_federation_registry_records_its_last_finalised_round(
    nft, registry, federation, fed_model, accounts
):
    assert tuple(nft.federationOf(fed_model)) == (federation, 1)
    assert nft.provenance(fed_model).dict()["minter"] == registry
    assert nft.ownerOf(fed_model) == accounts[4]


def test_mint_reverts_for_empty_manifest_cid(nft, publisher, holder):
    with brownie.reverts(err("ModelNFTInvalidManifestCID", 0)):
        nft.mint(holder, with_field(mint_params(), 0, ""), {"from": publisher})


def test_mint_reverts_for_manifest_cid_longer_than_max(nft, publisher, holder):
    too_long = "b" * (MAX_CID_LENGTH + 1)
    with brownie.reverts(err("ModelNFTInvalidManifestCID", MAX_CID_LENGTH + 1)):
        nft.mint(holder, with_field(mint_params(), 0, too_long), {"from": publisher})


def test_mint_accepts_manifest_cid_of_exactly_max_length(nft, publisher, holder):
    cid = "b" * MAX_CID_LENGTH
    token_id = nft.mint(holder, with_field(mint_params(), 0, cid), {"from": publisher}).return_value
    assert nft.tokenURI(token_id) == f"ipfs://{cid}"


@pytest.mark.parametrize("field", [1, 2], ids=["weights_digest", "signer_key_digest"])
def test_mint_reverts_for_zero_digest(nft, publisher, holder, field):
    with brownie.reverts(bare_err("ModelNFTZeroDigest")):
        nft.mint(holder, with_field(mint_params(), field, ZERO_DIGEST), {"from": publisher})


def test_mint_reverts_for_unknown_parent(nft, publisher, holder, minted):
    unknown = nft.totalMinted() + 1
    with brownie.reverts(err("ModelNFTUnknownParent", unknown)):
        nft.mint(holder, mint_params("child", parent=unknown), {"from": publisher})


def test_mint_with_existing_parent_records_lineage(nft, publisher, stranger, minted):
    # Execute
    tx = nft.mint(stranger, mint_params("child", parent=minted), {"from": publisher})

    # Assert
    child = tx.return_value
    assert nft.ownerOf(child) == stranger
    assert nft.provenance(child).dict()["parentTokenId"] == minted
    assert tx.events["ModelMinted"]["parentTokenId"] == minted


def test_mint_reverts_when_royalty_above_max(nft, publisher, holder):
    params = mint_params(royalty_receiver=publisher.address, royalty_bps=MAX_ROYALTY_BPS + 1)
    with brownie.reverts(err("ModelNFTRoyaltyTooHigh", MAX_ROYALTY_BPS + 1, MAX_ROYALTY_BPS)):
        nft.mint(holder, params, {"from": publisher})


def test_mint_accepts_royalty_at_max(nft, publisher, holder, stranger):
    params = mint_params(royalty_receiver=stranger.address, royalty_bps=MAX_ROYALTY_BPS)
    token_id = nft.mint(holder, params, {"from": publisher}).return_value
    sale_price = 3 * 10**18
    assert tuple(nft.royaltyInfo(token_id, sale_price)) == (
        stranger,
        sale_price * MAX_ROYALTY_BPS // ROYALTY_DENOMINATOR,
    )


def test_mint_reverts_for_zero_royalty_receiver_with_nonzero_bps(nft, publisher, holder):
    minted_before = nft.totalMinted()
    with brownie.reverts(bare_err("ModelNFTZeroAddress")):
        nft.mint(holder, mint_params(royalty_bps=100), {"from": publisher})
    assert nft.totalMinted() == minted_before


def test_mint_with_zero_bps_records_no_royalty_even_with_receiver(nft, publisher, holder):
    params = mint_params(royalty_receiver=publisher.address, royalty_bps=0)
    token_id = nft.mint(holder, params, {"from": publisher}).return_value
    assert tuple(nft.royaltyInfo(token_id, 10**18)) == (ZERO, 0)


def test_mint_reverts_for_zero_recipient(nft, publisher):
    with brownie.reverts(err("ERC721InvalidReceiver", ZERO)):
        nft.mint(ZERO, mint_params(), {"from": publisher})


def test_mint_reverts_when_recipient_contract_rejects_tokens(nft, publisher, contract_account):
    # Prepare
    contract_account.configure(True, False, ZERO, b"", True, {"from": publisher})
    minted_before = nft.totalMinted()

    # Execute / Assert
    with brownie.reverts(err("ERC721InvalidReceiver", contract_account)):
        nft.mint(contract_account, mint_params(), {"from": publisher})
    assert nft.totalMinted() == minted_before
    assert nft.balanceOf(contract_account) == 0


def test_mint_reverts_when_recipient_contract_has_no_receiver_hook(nft, publisher, market):
    with brownie.reverts(err("ERC721InvalidReceiver", market)):
        nft.mint(market, mint_params(), {"from": publisher})


def test_mint_to_contract_that_accepts_tokens(nft, publisher, contract_account):
    tx = nft.mint(contract_account, mint_params(), {"from": publisher})
    assert nft.ownerOf(tx.return_value) == contract_account
    assert tx.events["Transfer"]["to"] == contract_account


# ---------------------------------------------------------------------------------------- views


@pytest.mark.parametrize("view", ["provenance", "federationOf", "tokenURI", "ownerOf"])
def test_token_views_revert_for_nonexistent_token(nft, minted, view):
    unknown = nft.totalMinted() + 1
    with brownie.reverts(err("ERC721NonexistentToken", unknown)):
        getattr(nft, view)(unknown)
    with brownie.reverts(err("ERC721NonexistentToken", 0)):
        getattr(nft, view)(0)


def test_token_uri_is_ipfs_uri_of_manifest_cid(nft, minted):
    assert nft.tokenURI(minted) == "ipfs://bafkreim1"


def test_federation_of_is_zero_for_token_outside_a_federation(nft, minted):
    assert tuple(nft.federationOf(minted)) == (0, 0)


def test_provenance_survives_transfer(nft, minted, holder, stranger):
    before = nft.provenance(minted).dict()
    nft.transferFrom(holder, stranger, minted, {"from": holder})
    assert nft.ownerOf(minted) == stranger
    assert nft.provenance(minted).dict() == before


def test_is_minter_reflects_authorisation(nft, publisher, stranger, registry):
    assert nft.isMinter(publisher)
    assert nft.isMinter(registry)
    assert not nft.isMinter(stranger)


def test_total_minted_is_highest_token_id(nft, minted, fed_model, publisher, holder):
    assert nft.totalMinted() == max(minted, fed_model)
    token_id = nft.mint(holder, mint_params("next"), {"from": publisher}).return_value
    assert nft.totalMinted() == token_id


# ------------------------------------------------------------------------- ERC-165 and ERC-2981


def test_interface_ids_computed_from_selectors_match_the_standards():
    # Guards the selector helper itself against the published ERC ids.
    assert ERC165_ID == "0x01ffc9a7"
    assert ERC721_ID == "0x80ac58cd"
    assert ERC721_METADATA_ID == "0x5b5e139f"
    assert ERC2981_ID == "0x2a55205a"


@pytest.mark.parametrize(
    "interface",
    [ERC165_ID, ERC721_ID, ERC721_METADATA_ID, ERC2981_ID, IMODELNFT_ID],
    ids=["erc165", "erc721", "erc721_metadata", "erc2981", "imodelnft"],
)
def test_supports_interface_for_implemented_interfaces(nft, interface):
    assert nft.supportsInterface(interface) is True


@pytest.mark.parametrize(
    "interface", ["0xffffffff", ERC721_ENUMERABLE_ID, "0x00000000"], ids=["invalid", "enum", "zero"]
)
def test_supports_interface_false_for_other_interfaces(nft, interface):
    assert nft.supportsInterface(interface) is False


def test_royalty_info_pays_minted_bps_to_receiver(nft, minted, publisher):
    for price in (10**18, 199, 0):
        receiver, amount = nft.royaltyInfo(minted, price)
        assert receiver == publisher
        assert amount == price * 500 // ROYALTY_DENOMINATOR


def test_royalty_info_is_empty_for_token_without_royalty(nft, fed_model):
    assert tuple(nft.royaltyInfo(fed_model, 10**18)) == (ZERO, 0)


# ------------------------------------------------------------------------------ Ownable2Step


def test_ownership_transfer_takes_effect_only_after_acceptance(nft, owner, accounts, stranger):
    new_owner = accounts[9]

    # Execute: start the transfer
    tx = nft.transferOwnership(new_owner, {"from": owner})

    # Assert: pending, not yet effective
    assert tx.events["OwnershipTransferStarted"]["previousOwner"] == owner
    assert tx.events["OwnershipTransferStarted"]["newOwner"] == new_owner
    assert nft.owner() == owner
    assert nft.pendingOwner() == new_owner
    with brownie.reverts(err("OwnableUnauthorizedAccount", new_owner)):
        nft.setMinter(stranger, True, {"from": new_owner})
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        nft.acceptOwnership({"from": stranger})

    # Execute: accept
    tx = nft.acceptOwnership({"from": new_owner})

    # Assert
    assert tx.events["OwnershipTransferred"]["previousOwner"] == owner
    assert tx.events["OwnershipTransferred"]["newOwner"] == new_owner
    assert nft.owner() == new_owner
    assert nft.pendingOwner() == ZERO
    with brownie.reverts(err("OwnableUnauthorizedAccount", owner)):
        nft.setMinter(stranger, True, {"from": owner})
    nft.setMinter(stranger, True, {"from": new_owner})
    assert nft.isMinter(stranger)


def test_transfer_ownership_reverts_when_caller_is_not_owner(nft, owner, stranger):
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        nft.transferOwnership(stranger, {"from": stranger})
    assert nft.pendingOwner() == ZERO
    assert nft.owner() == owner
