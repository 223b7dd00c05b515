"""A requester creates a chain-rail job in the browser and funds it through an injected EIP-1193 wallet
(approve + fund) that forwards JSON-RPC to the embedded chain; the payments poll sees the deposit and the
job page shows the job active."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace.config import Settings
from marketplace.escrow.evm import DevChain, JsonRpcServer, serve_json_rpc
from marketplace.payments.rails import Rails
from tests.web.conftest import fill_new_job_form, screenshot, sign_in

# A minimal injected wallet: the dev account is unlocked on eth-tester, so eth_sendTransaction goes to the
# node unsigned, as it would to a node that holds the key. Every call is recorded for the assertions.
WALLET_JS = """
(() => {
  const RPC = %(rpc)s, ACCOUNT = %(account)s;
  let id = 0;
  const calls = [];
  async function rpc(method, params) {
    const response = await fetch(RPC, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }) });
    const reply = await response.json();
    const err = reply.error;
    if (err) throw Object.assign(new Error(err.message), { code: err.code, data: err.data });
    return reply.result;
  }
  window.__walletCalls = calls;
  window.ethereum = {
    isTileworkTestWallet: true,
    async request({ method, params }) {
      calls.push(method);
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [ACCOUNT];
      if (method === "wallet_switchEthereumChain") return null;
      if (method.startsWith("eth_") || method.startsWith("net_")) return rpc(method, params);
      throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
    },
    on() {}, removeListener() {},
  };
})();
"""


@pytest.fixture
def json_rpc(chain: DevChain) -> Iterator[JsonRpcServer]:
    server = serve_json_rpc(chain.w3)
    try:
        yield server
    finally:
        server.close()


def test_web_requester_creates_and_funds_a_job_with_a_wallet(
    browser_page: Any,
    make_user: Any,
    box_dataset: dict[str, Any],
    settings: Settings,
    rails: Rails,
    chain: DevChain,
    json_rpc: JsonRpcServer,
    tmp_path: Path,
) -> None:
    from marketplace.payments.tasks import poll_chain_funding

    page = browser_page
    wallet = chain.accounts[0].address
    page.add_init_script(WALLET_JS % {"rpc": json.dumps(json_rpc.url), "account": json.dumps(wallet)})
    requester = make_user("requester")
    sign_in(page, requester["email"])
    fill_new_job_form(page, box_dataset, tmp_path, title="Pets paid on chain", rail="chain", bounty="1000")
    # The chain rail offers the platform's token and takes the amount in it (6 decimals here).
    assert page.get_by_label("Currency").input_value() == "tusd"
    assert page.locator("#bounty-unit").inner_text() == "(tUSD)"
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.wait_for_function("document.body.dataset.loaded === '1'")
    job_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#job-status").inner_text() == "draft"
    assert "bounty 1,000 tUSD" in page.locator("#job-meta").inner_text()  # whole tokens, not base units

    token = chain.w3.eth.contract(address=chain.token_address, abi=_erc20_abi())
    before = token.functions.balanceOf(wallet).call()
    page.get_by_role("button", name="Fund with a wallet").click()
    page.get_by_text("Funded on chain").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Fund with a wallet").is_hidden()  # never twice
    calls = page.evaluate("window.__walletCalls")
    assert calls.count("eth_sendTransaction") == 2  # approve, then fund
    assert before - token.functions.balanceOf(wallet).call() == 1_000_000_000
    page.wait_for_function("document.getElementById('job-status').textContent === 'awaiting funds'")
    screenshot(page, "web_requester_wallet_funded")

    # the beat task that watches the vault for JobFunded logs; the page polls and shows the job open
    assert poll_chain_funding() == 1
    page.wait_for_function("document.getElementById('job-status').textContent === 'active'", timeout=15_000)
    assert page.locator("#funding").is_hidden()
    page.get_by_text("funded", exact=True).wait_for()
    funded = page.locator("#money .stat").filter(has=page.locator(".k", has_text=re.compile("^funded$")))
    page.wait_for_function(
        "[...document.querySelectorAll('#money .stat')].some(s => "
        "s.querySelector('.k').textContent === 'funded' "
        "&& s.querySelector('.v').textContent === '1,000 tUSD')"
    )
    assert funded.locator(".money").get_attribute("title") == "1000000000 base units"
    screenshot(page, "web_requester_job_active")
    assert job_id > 0 and settings.database_url


def _erc20_abi() -> list[dict[str, Any]]:
    from marketplace.escrow.chain import load_artifact

    abi: list[dict[str, Any]] = load_artifact("TestToken")["abi"]
    return abi
