"""Fixtures of the browser suite: the Python suite's IPFS node, keystores and chain."""

from tests.attack_record import (
    pytest_configure,
    pytest_runtest_makereport,
    pytest_sessionfinish,
)
from tests.browser.fixtures_common import browser, built_frontend, page

# ruff: noqa: F401 - fixtures are re-exported for pytest by import
from tests.python.conftest import identity, ipfs_client, ipfs_node, other_identity, weights_file
from tests.python.federation_fixtures import deployed_chain
