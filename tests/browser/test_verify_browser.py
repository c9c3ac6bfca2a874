"""The in-browser receipt verifier (``/verify``, ``api/web/static/verify.js``) against Python's.

A ledger is built in-process: a few events, a checkpoint that two witnesses cosigned
(``Witness`` processes' core, fixed clock) and a later one only the first cosigned; then
``cocred serve`` serves it on 127.0.0.1 and Debian's Chromium verifies its receipts on the page.
Every case is also given to ``verify_bundle`` with the same keys: a good bundle passes both,
and each tampering fails both at the same step with the same sentence. From the click on, the
page sends no request at all (Playwright records every one).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.bootstrap import bootstrap
from api.settings import Settings
from ledger.canonical import canonical
from ledger.envelope import sign_envelope
from ledger.errors import CocredError
from ledger.provenance.bundles import ProofBundle, verify_bundle
from ledger.provenance.cosignature import Cosigner, WitnessPolicy
from ledger.provenance.note import NoteSigner, SignedCheckpoint
from ledger.provenance.witness import Witness, request_body
from ledger.store.engine import engine_for
from tests.browser.conftest import COCRED, STARTUP_SECONDS, _answers, _free_port
from tests.browser.support import ROOT, screenshot, wait_until
from tests.browser.test_accessibility import AXE, WIDTHS, _violations
from tests.support import registration, seeded_key, unavailable

pytestmark = pytest.mark.browser

ANA = seeded_key(2301)
CLOCK = 1_790_000_000.0  # the witnesses' clock: the same cosignatures on every run
BOTH, ONLY_FIRST = 5, 9  # checkpoint sizes: cosigned by both witnesses, by the first only
STEP_IDS = ["inputs", "event", "signature", "checkpoint", "witnesses", "inclusion", "anchor"]


@dataclass(frozen=True)
class Witnessed:
    """The served ledger: its URL and key, the witnesses' keys, and two receipts."""

    url: str
    vkey: str
    origin: str
    witnesses: tuple[str, str]
    both: dict[str, Any]  # position 2 under the checkpoint of size 5 (both cosigned)
    only_first: dict[str, Any]  # position 7 under the checkpoint of size 9 (first only)


def _bundle(svc: Any, position: int, size: int) -> dict[str, Any]:
    stored = svc.provenance.checkpoints.get(size)
    record = svc.ledger.store.get(position)
    proof = svc.provenance.tree.inclusion(position, size)
    return ProofBundle(
        position, record.data, ANA.public_bytes, proof, stored.signed, None
    ).to_json()


def _cosign(witness: Witness, signed: SignedCheckpoint, old: int, proof: Any) -> Any:
    answer = witness.add_checkpoint(request_body(old, proof, signed))
    return SignedCheckpoint.from_text(signed.to_text() + answer).signatures[-1]


def _build(tmp: Path, key_file: Path, url: str) -> tuple[str, str, tuple[str, str], dict, dict]:
    with bootstrap(Settings(database_url=url, ledger_key_file=key_file)) as svc:
        svc.ledger.append(registration(ANA))
        svc.ledger.append_batch(
            [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(2, BOTH + 1)]
        )
        both = svc.provenance.checkpoints.cut()
        vkey = svc.provenance.identity.vkey
        cosigners = [Cosigner(f"witness.test/w{i}", seeded_key(2310 + i).private) for i in (1, 2)]
        first, second = (
            Witness(engine_for(f"sqlite:///{tmp}/w{i}.sqlite"), c, [vkey], clock=lambda: CLOCK)
            for i, c in enumerate(cosigners, 1)
        )
        assert both is not None and both.size == BOTH
        lines = [_cosign(w, both.signed, 0, ()) for w in (first, second)]
        svc.provenance.checkpoints.add_cosignatures(BOTH, lines)
        svc.ledger.append_batch(
            [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(BOTH + 1, 10)]
        )
        later = svc.provenance.checkpoints.cut()
        assert later is not None and later.size == ONLY_FIRST
        path = svc.provenance.tree.consistency(BOTH, ONLY_FIRST).path
        svc.provenance.checkpoints.add_cosignatures(
            ONLY_FIRST, [_cosign(first, later.signed, BOTH, path)]
        )
        origin = svc.provenance.identity.origin
        keys = (cosigners[0].vkey, cosigners[1].vkey)
        return vkey, origin, keys, _bundle(svc, 2, BOTH), _bundle(svc, 7, ONLY_FIRST)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Witnessed]:
    """The witnessed ledger, served by ``cocred serve`` (stopped by PID afterwards)."""
    tmp = tmp_path_factory.mktemp("verify")
    key_file, url = tmp / "ledger.key", f"sqlite:///{tmp}/log.sqlite"
    vkey, origin, keys, both, only_first = _build(tmp, key_file, url)
    port = _free_port()
    log = tmp / "serve.log"
    env = {**os.environ, "COCRED_LEDGER_KEY_FILE": str(key_file)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [*COCRED, "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(base + "/verify"):
            if process.poll() is not None:
                pytest.fail(f"cocred serve exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"cocred serve did not answer in {STARTUP_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.2)
        yield Witnessed(base, vkey, origin, keys, both, only_first)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def tab(browser: Any, witnessed: Witnessed) -> Iterator[Any]:
    """A fresh tab on the witnessed ledger's server."""
    context = browser.new_context(base_url=witnessed.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass(frozen=True)
class Outcome:
    """What the page showed: each step's (id, status, sentence), the verdict, the requests."""

    steps: list[tuple[str, str, str]]
    verdict: str
    requests: list[str]

    @property
    def failure(self) -> tuple[str, str] | None:
        failed = [(step, detail) for step, status, detail in self.steps if status == "fail"]
        return failed[0] if failed else None


def in_browser(
    tab: Any,
    bundle: dict[str, Any],
    tmp_path: Path,
    *,
    vkey: str | None = None,
    witnesses: tuple[str, ...] = (),
    quorum: int | None = None,
    drop: bool = False,
) -> Outcome:
    """Load /verify, give it the bundle (chosen, or dropped) and keys, press Verify."""
    text = json.dumps(bundle, indent=2)
    tab.goto("/verify")
    wait_until(tab, "document.getElementById('ledger-key').value.length > 0")
    if vkey is not None:
        tab.fill("#ledger-key", vkey)
    tab.fill("#witness-keys", "\n".join(witnesses))
    if quorum is not None:
        tab.fill("#quorum", str(quorum))
    if drop:
        transfer = tab.evaluate_handle(
            """text => { const dt = new DataTransfer();
                dt.items.add(new File([text], 'receipt.json', {type: 'application/json'}));
                return dt; }""",
            text,
        )
        tab.dispatch_event("#bundle-drop", "drop", {"dataTransfer": transfer})
    else:
        path = tmp_path / "receipt.json"
        path.write_text(text)
        tab.set_input_files("#bundle-file", str(path))
    tab.wait_for_selector("#bundle-chosen:has-text('Chosen: receipt.json')")
    requests: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    tab.click("#verify-button")
    tab.wait_for_selector("#verify-verdict.verdict")
    steps = tab.locator("#verify-steps li").evaluate_all(
        """items => items.map(li => [li.dataset.step, li.className.replace('step ', ''),
            (li.querySelector('.detail') || {textContent: ''}).textContent])"""
    )
    return Outcome([tuple(s) for s in steps], tab.inner_text("#verify-verdict"), requests)


def in_python(
    bundle: dict[str, Any], vkey: str, witnesses: tuple[str, ...] = (), quorum: int | None = None
) -> str | None:
    """``cocred verify-proof``'s verdict: None when it passes, else the refusal's sentence."""
    try:
        policy = WitnessPolicy.parse(witnesses, quorum) if witnesses else None
        verify_bundle(ProofBundle.from_json(bundle), vkey, policy)
    except CocredError as exc:
        return exc.detail
    return None


def test_the_page_is_prefilled_with_the_servers_key_and_says_to_pin_your_own(
    tab: Any, witnessed: Witnessed
) -> None:
    tab.goto("/verify")
    wait_until(tab, "document.getElementById('ledger-key').value.length > 0")
    assert tab.input_value("#ledger-key") == witnessed.vkey
    assert "GET /ledger-key" in tab.inner_text("#ledger-key-source")
    assert "you pinned yourself" in tab.inner_text("#ledger-key-help")
    assert tab.locator("#verify-noscript").is_hidden()
    assert tab.locator("#verify-form").is_visible()


def test_a_good_bundle_passes_every_step_with_two_of_two_witnesses(
    tab: Any, witnessed: Witnessed, tmp_path: Path
) -> None:
    got = in_browser(tab, witnessed.both, tmp_path, witnesses=witnessed.witnesses)
    assert [(step, status) for step, status, _ in got.steps] == [
        *((step, "pass") for step in STEP_IDS[:-1]),
        ("anchor", "skip"),
    ]
    details = dict((step, detail) for step, _, detail in got.steps)
    assert details["witnesses"].startswith(
        "2 of 2 trusted witnesses cosigned it (the policy needs 2): witness.test/w1+"
    )
    assert f"at position 2 of {BOTH}" in details["inclusion"]
    assert got.verdict.startswith("✓ The receipt checks out: NoteShared (seq 3) is at position 2")
    assert got.requests == []
    assert in_python(witnessed.both, witnessed.vkey, witnessed.witnesses) is None
    screenshot(tab, "verify-good")


def test_a_bundle_only_one_witness_cosigned_passes_a_one_of_two_policy(
    tab: Any, witnessed: Witnessed, tmp_path: Path
) -> None:
    got = in_browser(
        tab, witnessed.only_first, tmp_path, witnesses=witnessed.witnesses, quorum=1, drop=True
    )
    assert got.failure is None, got.steps
    details = dict((step, detail) for step, _, detail in got.steps)
    assert details["witnesses"].startswith(
        "1 of 2 trusted witnesses cosigned it (the policy needs 1): witness.test/w1+"
    )
    assert got.requests == []
    assert in_python(witnessed.only_first, witnessed.vkey, witnessed.witnesses, 1) is None


def test_without_witness_keys_the_step_is_skipped_and_a_matching_anchor_is_not_checked_on_chain(
    tab: Any, witnessed: Witnessed, tmp_path: Path
) -> None:
    bundle = copy.deepcopy(witnessed.only_first)
    bundle["anchor"] = _receipt(bundle, root=_root(bundle))
    got = in_browser(tab, bundle, tmp_path)
    statuses = {step: (status, detail) for step, status, detail in got.steps}
    assert statuses["witnesses"][0] == "skip"
    assert statuses["anchor"][0] == "pass" and "not checked on chain" in statuses["anchor"][1]
    assert got.failure is None and got.requests == []
    assert in_python(bundle, witnessed.vkey) is None


def _root(bundle: dict[str, Any]) -> bytes:
    return base64.b64decode(bundle["checkpoint"].split("\n")[2])


def _size(bundle: dict[str, Any]) -> int:
    return int(bundle["checkpoint"].split("\n")[1])


def _receipt(bundle: dict[str, Any], *, root: bytes) -> dict[str, Any]:
    return {
        "chain_id": 31337,
        "contract": "0x" + "ab" * 20,
        "tx_hash": "0x" + "cd" * 32,
        "block_number": 12,
        "root_hash": "0x" + root.hex(),
        "tree_size": _size(bundle),
        "gas_used": 51_000,
    }


def _event(change: Callable[[str], str]) -> Callable[[dict[str, Any], Witnessed], None]:
    def tamper(bundle: dict[str, Any], _: Witnessed) -> None:
        changed = change(bundle["event"])
        assert changed != bundle["event"]
        bundle["event"] = changed

    return tamper


def _flip_second_cosignature(bundle: dict[str, Any], _: Witnessed) -> None:
    lines = bundle["checkpoint"].split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("— witness.test/w2 "))
    head, encoded = lines[at].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    lines[at] = f"{head} {base64.b64encode(bytes(raw)).decode()}"
    bundle["checkpoint"] = "\n".join(lines)


def _wrong_path_hash(bundle: dict[str, Any], _: Witnessed) -> None:
    raw = bytearray(base64.b64decode(bundle["path"][0]))
    raw[0] ^= 0x80
    bundle["path"][0] = base64.b64encode(bytes(raw)).decode()


def _moved(bundle: dict[str, Any], _: Witnessed) -> None:
    bundle["position"] += 1


def _anchor_for_another_root(bundle: dict[str, Any], _: Witnessed) -> None:
    bundle["anchor"] = _receipt(bundle, root=hashlib.sha256(b"another tree").digest())


def _unchanged(bundle: dict[str, Any], _: Witnessed) -> None:
    pass


# (case, which bundle, tampering, ledger key: None for the server's, witnesses, quorum,
#  the step that fails, how its sentence starts)
STRANGER = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)  # signs no checkpoint here
TAMPERED = [
    (
        "a changed byte in the event",
        "both",
        _event(lambda e: e.replace('"body":{"n":3}', '"body":{"n":4}')),
        None,
        True,
        None,
        "signature",
        "bundle: event: signature does not verify",
    ),
    (
        "the event not in canonical form",
        "both",
        _event(lambda e: e.replace('{"actor":', '{ "actor":')),
        None,
        True,
        None,
        "event",
        "bundle: event: the bytes are not in canonical form",
    ),
    (
        "a wrong ledger key",
        "both",
        _unchanged,
        "stranger",
        True,
        None,
        "checkpoint",
        "checkpoint: no signature by key ",
    ),
    (
        "a checkpoint that lacks a witness",
        "only_first",
        _unchanged,
        None,
        True,
        None,
        "witnesses",
        f"checkpoint of size {ONLY_FIRST}: 1 of the 2 trusted witnesses cosigned it, the policy "
        "needs 2 (missing: witness.test/w2+",
    ),
    (
        "a flipped bit in a cosignature",
        "both",
        _flip_second_cosignature,
        None,
        True,
        1,
        "witnesses",
        "cosignature by witness witness.test/w2+",
    ),
    (
        "a wrong hash in the inclusion path",
        "both",
        _wrong_path_hash,
        None,
        True,
        None,
        "inclusion",
        f"inclusion: root mismatch at size {BOTH}: expected ",
    ),
    (
        "a position moved",
        "both",
        _moved,
        None,
        True,
        None,
        "inclusion",
        f"inclusion: root mismatch at size {BOTH}: expected ",
    ),
    (
        "an anchor for another root",
        "both",
        _anchor_for_another_root,
        None,
        True,
        None,
        "anchor",
        f"bundle: anchor: receipt is for size {BOTH} root ",
    ),
]


@pytest.mark.parametrize(
    ("which", "tamper", "key", "witnessed_by", "quorum", "step", "sentence"),
    [case[1:] for case in TAMPERED],
    ids=[case[0] for case in TAMPERED],
)
def test_a_tampered_bundle_fails_at_the_same_step_with_the_same_sentence_as_python(
    tab: Any,
    witnessed: Witnessed,
    tmp_path: Path,
    which: str,
    tamper: Callable[[dict[str, Any], Witnessed], None],
    key: str | None,
    witnessed_by: bool,
    quorum: int | None,
    step: str,
    sentence: str,
) -> None:
    bundle = copy.deepcopy(getattr(witnessed, which))
    tamper(bundle, witnessed)
    vkey = witnessed.vkey
    if key == "stranger":  # the same origin name, another key: another key id
        vkey = NoteSigner(witnessed.origin, STRANGER).vkey
    witnesses = witnessed.witnesses if witnessed_by else ()
    got = in_browser(
        tab, bundle, tmp_path, vkey=None if key is None else vkey, witnesses=witnesses,
        quorum=quorum,
    )  # fmt: skip
    python = in_python(bundle, vkey, witnesses, quorum)
    assert got.failure is not None, got.steps
    failed_step, detail = got.failure
    assert (failed_step, detail[: len(sentence)]) == (step, sentence)
    assert detail == python, "the browser and verify_bundle give the same sentence"
    statuses = [status for _, status, _ in got.steps]
    at = STEP_IDS.index(step)
    assert all(status in ("pass", "skip") for status in statuses[:at]), got.steps
    assert statuses[at:] == ["fail"] + ["not-run"] * (len(STEP_IDS) - at - 1), got.steps
    assert got.verdict.startswith(f"✗ Failed at step {at} (")
    assert got.requests == [], "nothing leaves the page while verifying"


def test_a_malformed_bundle_and_a_malformed_witness_key_are_refused_like_verify_proof(
    tab: Any, witnessed: Witnessed, tmp_path: Path
) -> None:
    bundle = copy.deepcopy(witnessed.both)
    bundle["key"] = bundle["key"][:-3]
    got = in_browser(tab, bundle, tmp_path)
    assert got.failure == ("inputs", in_python(bundle, witnessed.vkey))
    assert got.failure[1] == "bundle: bundle: key must encode 32 bytes, got 30"
    bad = (witnessed.witnesses[0][:-4] + "AAAA",)
    got = in_browser(tab, witnessed.both, tmp_path, witnesses=bad)
    assert got.failure == ("inputs", in_python(witnessed.both, witnessed.vkey, bad))
    assert got.failure[1].startswith("witness policy: verifier key: key id ")


def test_a_browser_without_ed25519_in_webcrypto_is_told_so_and_verifies_nothing(
    browser: Any, witnessed: Witnessed
) -> None:
    context = browser.new_context(base_url=witnessed.url)
    context.add_init_script(
        """const original = crypto.subtle.importKey.bind(crypto.subtle);
        crypto.subtle.importKey = (format, data, algorithm, ...rest) =>
          (algorithm && algorithm.name === 'Ed25519')
            ? Promise.reject(new DOMException('Unrecognized name', 'NotSupportedError'))
            : original(format, data, algorithm, ...rest);"""
    )
    try:
        page = context.new_page()
        page.goto("/verify")
        page.wait_for_selector("#verify-verdict.verdict.bad")
        assert "has no Ed25519" in page.inner_text("#verify-verdict")
        assert "cocred verify-proof" in page.inner_text("#verify-verdict")
        assert page.locator("#verify-button").is_disabled()
    finally:
        context.close()


def test_without_javascript_the_page_explains_cocred_verify_proof(
    browser: Any, witnessed: Witnessed
) -> None:
    context = browser.new_context(base_url=witnessed.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/verify")
        assert page.locator("#verify-noscript").is_visible()
        assert "JavaScript" in page.inner_text("#verify-noscript")
        assert page.locator("#verify-form").is_hidden()
        commands = page.inner_text("#cli pre")
        assert f"VKEY='{witnessed.vkey}'" in commands
        assert 'cocred verify-proof receipt.json --ledger-key "$VKEY"' in commands
    finally:
        context.close()


def test_the_vendored_canonicalize_agrees_with_the_ledgers_rfc_8785(
    tab: Any, witnessed: Witnessed
) -> None:
    """The JS canonical form the page checks against is the one the ledger signs and hashes."""
    values = [
        {"b": 1, "a": [True, None, "x"], "é": {"z": -0, "y": 9007199254740991}},
        {"\u20ac": "euro", "\r": "cr", "\ufb33": "hebrew", "1": "one", "\U0001f600": "emoji"},
        {"text": '\u0000\u001f"\\/\u007f\u2028 café 😀', "n": -9007199254740991},
        json.loads(witnessed.both["event"]),
    ]
    tab.goto("/verify")
    got = tab.evaluate(
        """async values => {
            const vendored = await import('/static/vendor/canonicalize/canonicalize.js');
            return values.map(v => vendored.default(v));
        }""",
        values,
    )
    assert got == [canonical(v).decode() for v in values]


def test_the_results_are_accessible_and_fit_a_phone(
    browser: Any, witnessed: Witnessed, tmp_path: Path
) -> None:
    """axe-core and the 390 px check of test_accessibility, on the page showing a failure."""
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make node)")
    context = browser.new_context(
        base_url=witnessed.url, viewport={"width": WIDTHS["phone"], "height": 900}
    )
    context.set_default_timeout(30_000)
    try:
        phone = context.new_page()
        bundle = copy.deepcopy(witnessed.only_first)
        got = in_browser(phone, bundle, tmp_path, witnesses=witnessed.witnesses)
        assert got.failure is not None and got.failure[0] == "witnesses"
        overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert (_violations(phone), overflow) == ([], 0)
        screenshot(phone, "verify-phone-failure")
    finally:
        context.close()
