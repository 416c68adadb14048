"""Pieces the browser test modules share: the built frontend, the page server, Chromium through
Playwright, a page that fails its test on console errors, axe-core and screenshots.

Import the fixtures by name into a test module (``from .fixtures_common import browser, page``);
pytest then uses them in that module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .helpers import ARTIFACTS, DIST, FRONTEND, node_binary

CHROMIUM = os.environ.get("FQAI_CHROMIUM", "/usr/bin/chromium")
TIMEZONE = "Asia/Kolkata"  # a non-UTC zone with a half-hour offset shows local-time rendering
ALLOWED_ERRORS = "fqai_allowed_console_errors"


def load_serve_module():
    """frontend/serve.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("fqai_frontend_serve", FRONTEND / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def serve_dapp(chain, ipfs_node, dist: Path) -> Iterator[str]:
    """Serve ``dist`` for ``chain`` (a DeployedChain) and the IPFS node on 127.0.0.1; the URL."""
    serve = load_serve_module()
    server, url = serve.serve_in_thread(
        rpc_url=chain.rpc_url,
        ipfs_api=ipfs_node.api_url.removesuffix("/api/v0"),
        deployment=chain.deployments_dir / f"{chain.chain_id}.json",
        dist=dist,
    )
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def built_frontend() -> Path:
    """`npm run build` of frontend/ (node_modules must exist: `npm ci` in frontend/)."""
    if not (FRONTEND / "node_modules" / ".bin" / "vite").exists():
        pytest.fail("frontend dependencies missing: run `npm ci` in frontend/")
    env = {**os.environ, "PATH": f"{Path(node_binary()).parent}:{os.environ['PATH']}"}
    subprocess.run(
        ["npm", "run", "build"], cwd=FRONTEND, env=env, check=True, capture_output=True, timeout=300
    )
    return DIST


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (or set FQAI_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def allow_console_errors(page, pattern: str) -> None:
    """Let console errors matching ``pattern`` (a regex) pass in this page, e.g. the network
    error Chromium logs for an HTTP error status a test provokes on purpose."""
    getattr(page, ALLOWED_ERRORS).append(re.compile(pattern))


@pytest.fixture()
def page(browser, request) -> Iterator[object]:
    """A fresh page; fails the test on any console error or uncaught exception."""
    context = browser.new_context(
        timezone_id=TIMEZONE, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    setattr(page, ALLOWED_ERRORS, [])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    allowed = getattr(page, ALLOWED_ERRORS)
    unexpected = [e for e in errors if not any(p.search(e) for p in allowed)]
    assert not unexpected, f"console errors: {unexpected}"


def axe(page, name: str) -> None:
    """Run axe-core in the page; fail on serious or critical violations; keep the report."""
    # Evaluated over the DevTools protocol: the page's CSP refuses injected inline <script> tags.
    page.evaluate((FRONTEND / "node_modules" / "axe-core" / "axe.min.js").read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], indent=1))
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad


def shot(page, name: str) -> Path:
    """A full-page screenshot in reports/browser/; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_page(page, url: str) -> None:
    """Load ``url`` and wait until the app has rendered its first route."""
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")
