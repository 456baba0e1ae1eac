"""The cloud's stored watermark of a site: the value of key ``<site>`` in the DU_STORED bucket,
written by the cloud's ingest, read by the site's edge (DESIGN.md section 6, docs/protocols.md).

Two forms:

- ``b"42"``, ASCII decimal: every seq 1..42 of the site holds a stored batch. Written while the
  cloud has no batch with an epoch among the site's recent ones (an edge of an earlier version
  reads only this form), and by a cloud of an earlier version.
- JSON ``{"v": 1, "seq": W, "top": T, "from": F, "epochs": {"<epoch>": [[first, "<fp><fp>…"], …]}}``:
  ``seq`` as above, ``top`` the highest stored seq, and every batch stored under a seq in
  F+1..T (F = max(0, T - WINDOW)) listed by its buffer's epoch and a fingerprint of its digest
  (the digest's first FINGERPRINT_HEX hex digits): each run gives the fingerprints of seqs
  first, first+1, … in one string. A batch stored without an epoch is listed under the epoch ""
  with a fingerprint of zeros.

The edge marks a batch stored only when its own (epoch, fingerprint) is listed under its seq
(``Stored.verdict``); another batch under its seq, or a seq at or below F, means the cloud
cannot confirm it there, and the edge renumbers it above ``top``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW = 1024  # seqs listed below the highest one: more than an edge has in flight and unconfirmed
FINGERPRINT_HEX = 16  # 64 bits of the digest per listed batch
_NO_DIGEST = "0" * FINGERPRINT_HEX

STORED, OTHER, NONE, UNKNOWN = "stored", "other", "none", "unknown"


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int  # contiguous: every seq 1..seq holds a stored batch (of whichever buffer)
    top: int  # the highest stored seq
    floor: int  # the listing covers seqs floor+1 .. top
    batches: Mapping[int, frozenset[tuple[str, str]]] = field(default_factory=dict)  # seq -> {(epoch, fingerprint)}
    legacy: bool = False  # the decimal form: nothing is listed

    def verdict(self, seq: int, epoch: str, digest: str | None) -> str:
        """What the cloud holds under ``seq`` for a batch of ``epoch`` with ``digest`` (None: not
        known yet, the batch was never acknowledged): STORED that very batch; OTHER another one, or
        a seq it cannot list (at or below ``floor``); UNKNOWN a batch of the same epoch whose
        digest cannot be compared yet; NONE nothing yet."""
        held = self.batches.get(seq)
        if held:
            if digest is not None and (epoch, fingerprint(digest)) in held:
                return STORED
            if digest is None and any(e == epoch for e, _ in held):
                return UNKNOWN
            return OTHER
        return OTHER if seq <= self.floor else NONE

    def encode(self) -> bytes:
        if self.legacy:
            return str(self.seq).encode()
        epochs: dict[str, list[list[Any]]] = {}
        for seq in sorted(self.batches):
            for epoch, fp in sorted(self.batches[seq]):
                runs = epochs.setdefault(epoch, [])
                last = runs[-1] if runs else None
                if last is not None and last[0] + len(last[1]) // FINGERPRINT_HEX == seq:
                    last[1] += fp
                else:
                    runs.append([seq, fp])
        doc = {"v": 1, "seq": self.seq, "top": self.top, "from": self.floor, "epochs": epochs}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def fingerprint(digest: str) -> str:
    return digest[:FINGERPRINT_HEX] if digest else _NO_DIGEST


def build(rows: Iterable[tuple[int, str, str]], start: int, window: int = WINDOW, listing: bool = False) -> Stored:
    """The watermark from stored batches ``rows`` (seq, epoch, digest; epoch "" for a batch
    without one): every seq up to ``start`` is known to be stored, the contiguous seq walks on
    over ``rows`` (a seq missing from them ends the walk), and ``rows`` must hold every stored
    seq in the window below the highest. The decimal form unless a listed batch has an epoch or
    ``listing`` asks for the JSON form (the site's edge sends batches with an epoch)."""
    held: dict[int, set[tuple[str, str]]] = {}
    for seq, epoch, digest in rows:
        held.setdefault(seq, set()).add((epoch, fingerprint(digest) if epoch else _NO_DIGEST))
    contiguous = start
    while contiguous + 1 in held:
        contiguous += 1
    top = max([contiguous, *held])
    floor = max(0, top - window)
    listed = {seq: frozenset(ids) for seq, ids in held.items() if seq > floor}
    legacy = not listing and not any(epoch for ids in listed.values() for epoch, _ in ids)
    return Stored(contiguous, top, floor, listed if not legacy else {}, legacy)


def parse(value: bytes) -> Stored:
    """Read either form; ValueError names what is wrong."""
    text = value.decode("ascii", "replace").strip() or "0"
    if text.isdigit():
        n = int(text)
        return Stored(n, n, n, {}, legacy=True)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"stored watermark: neither a number nor JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ValueError(f"stored watermark: unknown form {text[:40]!r}")
    seq, top, floor = (_count(doc, key) for key in ("seq", "top", "from"))
    if not seq <= top or not floor <= top:
        raise ValueError(f"stored watermark: seq {seq}, top {top}, from {floor} out of order")
    epochs = doc.get("epochs")
    if not isinstance(epochs, dict):
        raise ValueError("stored watermark: epochs must be a map")
    held: dict[int, set[tuple[str, str]]] = {}
    for epoch, runs in epochs.items():
        if not isinstance(runs, list):
            raise ValueError(f"stored watermark: epochs.{epoch} must be a list of runs")
        for run in runs:
            if (not isinstance(run, list) or len(run) != 2 or not isinstance(run[0], int) or isinstance(run[0], bool)
                    or not isinstance(run[1], str) or len(run[1]) % FINGERPRINT_HEX):
                raise ValueError(f"stored watermark: epochs.{epoch}: bad run {str(run)[:40]}")
            first, fps = run
            for i in range(len(fps) // FINGERPRINT_HEX):
                held.setdefault(first + i, set()).add((epoch, fps[i * FINGERPRINT_HEX:(i + 1) * FINGERPRINT_HEX]))
    return Stored(seq, top, floor, {s: frozenset(ids) for s, ids in held.items()})


def _count(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"stored watermark: {key} must be a non-negative integer, got {value!r}")
    return value
