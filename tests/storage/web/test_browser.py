"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` with its
``chromium-driver``, driven by Selenium) against a real ``qclone serve`` process.

One browser session walks the whole scenario: sign in; store a state through the form; see it
listed; open it (placement picture, coalition audit, timeline); as the admin kill a provider
through the confirmation page and watch another provider's state change live; the object is
still retrievable; get it once (Bloch spheres and fidelity, the fidelity checked against an
independent computation with ``qiskit.quantum_info``); a second get refused on the page; a
tenant's cookie refused on another tenant's object and on the admin forms. On every page: no
console errors, every form control labelled and reached by the Tab key, and axe-core's checks
(the copy shipped by the ``axe-selenium-python`` package) without a violation. Screenshots go to
``out/dashboard/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(__file__).resolve().parents[3] / "out" / "dashboard"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000"]


def _need_browser() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    message = "Debian's chromium and chromium-driver are not installed (make test installs them as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dashboard")
    srv = Server(["--data-dir", str(data_dir), "--settable-clock"], free_port(), data_dir / "server.log")
    srv.start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="qclone-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------------- helpers
class Page:
    """The browser, with the checks every page gets."""

    def __init__(self, driver, base: str) -> None:
        self.d = driver
        self.base = base
        self.visited: list[str] = []

    def open(self, path: str) -> None:
        self.d.get(self.base + path)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def wait(self, predicate, timeout: float = 15.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} on {self.d.current_url}")

    def submit(self, css: str) -> None:
        """Press a button with the keyboard (focus it, then Enter) and wait for the next page."""
        from selenium.webdriver.common.keys import Keys

        old = self.find("html")
        self.find(css).send_keys(Keys.ENTER)
        self.wait(lambda: _stale(old), what="the next page")

    def check(self, name: str, *, console_ok: tuple[str, ...] = ()) -> None:
        """No console errors; labels, Tab order and axe-core on this page; a screenshot."""
        self.visited.append(name)
        errors = [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"
                  and not any(ok in e["message"] for ok in console_ok)]
        assert not errors, f"{name}: console errors {errors}"
        unlabelled = self.d.execute_script(_UNLABELLED)
        assert not unlabelled, f"{name}: controls without a label {unlabelled}"
        missed = _tab_through(self)
        assert not missed, f"{name}: the Tab key never reaches {missed}"
        if not self.d.execute_script("return !!window.axe"):
            self.d.execute_script(_axe_source() + "\n;window.axe = axe;")  # webdriver's eval: not blocked by the page's CSP
        violations = self.d.execute_async_script(_AXE_RUN)
        assert not violations, f"{name}: axe-core violations {json.dumps(violations, indent=1)}"
        self.d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
        self.d.save_screenshot(str(SHOTS / f"{name}.png"))


def _stale(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018 - touching it raises once the page changed
        return False
    except StaleElementReferenceException:
        return True


_UNLABELLED = """
const out = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const byFor = el.id && document.querySelector('label[for="' + el.id + '"]');
  if (!byFor && !el.closest('label') && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) {
    out.push(el.outerHTML.slice(0, 120));
  }
}
return out;
"""

_FOCUSABLE = """
const els = [...document.querySelectorAll('a[href], button, input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !e.disabled && e.getClientRects().length > 0);
els.forEach((e, i) => e.setAttribute('data-tab-id', String(i)));
window.__tabSeen = new Set();
document.addEventListener('focusin', e => {
  const id = e.target.getAttribute && e.target.getAttribute('data-tab-id');
  if (id !== null) window.__tabSeen.add(id);
}, true);
return els.length;
"""


def _tab_through(page: Page) -> list[str]:
    """Press Tab from the top of the page (once per control and a few more, sent in one batch of key
    presses; every element focused on the way is recorded); the controls never focused."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    total = page.d.execute_script(_FOCUSABLE)
    page.d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
    presses = ActionChains(page.d)
    for _ in range(total + 5):
        presses.send_keys(Keys.TAB)
    presses.perform()
    return page.d.execute_script(
        "return [...document.querySelectorAll('[data-tab-id]')].filter(e => !window.__tabSeen.has(e.getAttribute('data-tab-id')))"
        ".map(e => e.outerHTML.slice(0, 100));")


def _axe_source() -> str:
    import axe_selenium_python

    return (Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js").read_text()


_AXE_RUN = """
const done = arguments[arguments.length - 1];
window.axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, rules: {'color-contrast': {enabled: true}}})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html.slice(0, 120))}))))
  .catch(e => done([{id: 'axe failed', impact: String(e)}]));
"""


def expected_fidelity(bloch, elapsed: float, clones: int, t1: float, t2: float) -> float:
    """Independently, with qiskit.quantum_info: the stored state through the twirled T1/T2 memory
    channel of each of the n + 1 qubits a plain decryption uses (clone j and the n key qubits),
    every error reaching the output (n even: the protocol's error propagation, docs/protocol.md)."""
    from qiskit.quantum_info import DensityMatrix, Kraus, state_fidelity

    px = (1 - np.exp(-elapsed / t1)) / 4
    pz = (1 - np.exp(-elapsed / t2)) / 2 - px
    paulis = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1])]
    probs = [1 - 2 * px - pz, px, px, pz]
    channel = Kraus([np.sqrt(p) * m for p, m in zip(probs, paulis)])
    x, y, z = bloch
    rho = DensityMatrix((paulis[0] + x * paulis[1] + y * paulis[2] + z * paulis[3]) / 2)
    out = rho
    for _ in range(clones + 1):
        out = out.evolve(channel)
    return float(state_fidelity(rho, out))


# ---------------------------------------------------------------------- the scenario
def test_dashboard_scenario_in_chromium(server, browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    tenant_token = read_token(server.data_dir)
    admin_token = read_token(server.data_dir, "admin-token")
    admin = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=server.url, timeout=30) as api:
        bob_token = api.post("/v1/tenants", json={"name": "bob"}, headers=admin).json()["token"]
        api.put("/v1/objects/bobs", json={"state": {"kind": "bloch", "data": [0, 0, 1]}},
                headers={"Authorization": f"Bearer {bob_token}"}).raise_for_status()
        page = Page(browser, server.url)

        def sign_in(token: str) -> None:
            page.open("/ui/objects")
            page.wait(lambda: "/ui/login" in browser.current_url, what="the sign-in redirect")
            page.check("login")
            field = page.find("#token")
            field.send_keys(token)
            old = page.find("html")
            field.send_keys(Keys.ENTER)
            page.wait(lambda: _stale(old), what="signing in")

        def sign_out() -> None:
            page.submit(".signout button")
            assert "/ui/login" in browser.current_url

        # 1. sign in; store a state through the form; it is listed
        sign_in(tenant_token)
        assert browser.current_url.endswith("/ui/objects")
        page.check("objects-empty")
        page.find("#s-name").send_keys("psi")
        Select(page.find("#s-kind")).select_by_value("bloch")
        page.find("#s-data").send_keys("0.6, 0, 0.8")
        page.submit("form[enctype] button[type=submit]")
        assert browser.current_url.endswith("/ui/objects/psi"), browser.current_url
        # 2. the object: placement picture, audit, timeline
        assert len(page.all("svg.placement g.party[data-party]")) == 5  # 4 providers and the vault
        assert page.all("#coalitions tbody tr")
        assert "put" in page.text("#timeline")
        page.check("object")
        page.find("#coalitions tbody tr a").send_keys(Keys.ENTER)
        page.wait(lambda: page.all("svg.placement g.party.hl"), what="the highlighted coalition")
        page.check("object-coalition")
        page.open("/ui/objects")
        assert [r.get_attribute("data-key") for r in page.all("#objects tbody tr")] == ["psi"]
        page.check("objects")
        # 3. a tenant's cookie: not another tenant's object, not the admin pages or forms
        page.open("/ui/objects/bobs")
        assert "404" in page.text("h1")
        page.check("refused-object", console_ok=("404",))
        page.open("/ui/providers/p1/kill")
        assert "403" in page.text("h1")
        page.check("refused-admin", console_ok=("403",))
        page.open("/ui/objects")
        status = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const body = new FormData(); body.append('csrf_token', document.querySelector('input[name=csrf_token]').value);
            body.append('confirm', 'yes');
            fetch('/ui/providers/p1/kill', {method: 'POST', body}).then(r => done(r.status));""")
        assert status == 403
        browser.get_log("browser")  # that refusal's console line was asked for
        assert all(p["state"] == "up" for p in api.get("/v1/providers", headers=admin).json()["providers"])
        # 4. the admin kills a provider (with confirmation); the page follows another change live
        sign_out()
        sign_in(admin_token)
        assert browser.current_url.endswith("/ui/providers")
        page.check("providers")
        page.find('#providers tr[data-key="p1"] a.action[href$="/kill"]').send_keys(Keys.ENTER)
        page.wait(lambda: browser.current_url.endswith("/ui/providers/p1/kill"), what="the confirmation page")
        page.check("confirm-kill")
        page.submit("#confirm-action")
        assert "kill p1: down" in page.text("#action-result")
        page.check("providers-after-kill")
        api.post("/v1/providers/p2/drain", headers=admin).raise_for_status()
        cell = 'tr[data-key="p2"] td[data-field="state"]'
        page.wait(lambda: page.text(cell) in ("draining", "drained"), what="p2's state to update live")
        api.post("/v1/providers/p2/revive", headers=admin).raise_for_status()
        page.wait(lambda: page.text(cell) == "up", what="p2 back up, live")
        # 5. the tenant sees the object still retrievable; gets it once
        sign_out()
        sign_in(tenant_token)
        page.open("/ui/objects/psi")
        assert page.text("#retrievable") == "yes"
        assert page.all('svg.placement g.party.down[data-party="p1"]')
        elapsed = 600.0
        api.post("/v1/admin/clock", json={"advance": elapsed}, headers=admin).raise_for_status()
        first_tab = browser.current_window_handle
        browser.switch_to.new_window("tab")  # the same page open twice: the second get comes from here
        page.open("/ui/objects/psi")
        second_tab = browser.current_window_handle
        browser.switch_to.window(first_tab)
        page.open("/ui/objects/psi")
        page.find("#confirm-get").send_keys(Keys.SPACE)
        page.submit("#get-button")
        shown = float(re.search(r"([0-9.]+)", page.text("#fidelity strong")).group(1))
        assert len(page.all("#get-result svg.bloch")) == 2
        stored = api.get("/v1/objects/psi", headers={"Authorization": f"Bearer {tenant_token}"}).json()
        assert stored["state"] == "retrieved"  # acknowledged, as the CLI does
        provider = {p["id"]: p for p in api.get("/v1/providers", headers=admin).json()["providers"]}
        assert all((p["t1"], p["t2"]) == (3600.0, 3600.0) for p in provider.values())
        assert shown == pytest.approx(expected_fidelity((0.6, 0, 0.8), elapsed, 4, 3600.0, 3600.0), abs=2e-6)
        page.check("object-retrieved")
        # 6. the second get, from the other tab, is refused on the page
        browser.switch_to.window(second_tab)
        page.find("#confirm-get").send_keys(Keys.SPACE)
        page.submit("#get-button")
        assert "409" in page.text("h1") and "already retrieved" in page.text("#error-message")
        page.check("second-get-refused", console_ok=("409",))
        browser.close()
        browser.switch_to.window(first_tab)
        # 7. the protocol explorer and durability pages, in the dashboard's frame
        page.open("/ui/explorer?n=3")
        assert "Protocol explorer" in page.text("h1")
        page.check("explorer")
        page.open("/ui/durability")
        assert "urability" in page.text("h1")
        page.check("durability")
        # 8. the audit log with paging and filters
        page.open("/ui/audit")
        page.find("#a-action").send_keys("get")
        page.submit(".filters button")
        rows = page.all("#audit tbody tr")
        assert rows and all(r.find_elements("css selector", "td")[4].text == "get" for r in rows)
        page.check("audit")
        sign_out()
    assert len(page.visited) >= 12
