"""The cloud's stored watermark (protocol/watermark.py): built from the stored batches, written in
the decimal form while no batch has an epoch, as JSON runs otherwise; read back in both forms; and
the verdict an edge draws for each of its batches."""

from __future__ import annotations

import json

import pytest

from protocol import watermark
from protocol.watermark import NONE, OTHER, STORED, UNKNOWN, Stored

A, B = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"  # two buffers' epochs


def _d(n: int) -> str:
    """A digest whose 16-digit fingerprint differs for every n: n in the first digits."""
    return f"{n:016x}" + "0" * 16


def test_a_site_without_epochs_keeps_the_decimal_form() -> None:
    # batches 1, 2, 3 and 5 stored without an epoch: contiguous up to 3
    state = watermark.build([(1, "", ""), (2, "", ""), (3, "", ""), (5, "", "")], 0)
    assert (state.seq, state.top, state.legacy) == (3, 5, True)
    assert state.encode() == b"3"  # what an edge before epochs reads
    assert watermark.parse(b"3") == Stored(3, 3, 3, {}, legacy=True)


def test_the_json_form_lists_each_batch_by_epoch_and_fingerprint() -> None:
    # A stored seqs 1-3, B stored 5 and 6; nothing under 4: contiguous 3, top 6
    rows = [(1, A, _d(1)), (2, A, _d(2)), (3, A, _d(3)), (5, B, _d(5)), (6, B, _d(6))]
    state = watermark.build(rows, 0)
    assert (state.seq, state.top, state.floor, state.legacy) == (3, 6, 0, False)
    doc = json.loads(state.encode())
    # runs: A from seq 1 with three 16-digit fingerprints, B from seq 5 with two
    assert doc == {"v": 1, "seq": 3, "top": 6, "from": 0, "epochs": {
        A: [[1, "0000000000000001" "0000000000000002" "0000000000000003"]],
        B: [[5, "0000000000000005" "0000000000000006"]]}}
    assert watermark.parse(state.encode()) == state


def test_verdicts() -> None:
    rows = [(1, A, _d(1)), (2, A, _d(2)), (3, "", ""), (5, B, _d(5))]
    state = watermark.build(rows, 0)
    assert state.verdict(1, A, _d(1)) == STORED
    assert state.verdict(2, A, _d(9)) == OTHER  # same buffer, other content (a restored backup)
    assert state.verdict(2, A, None) == UNKNOWN  # ours perhaps: never acknowledged, digest unknown
    assert state.verdict(1, B, _d(1)) == OTHER  # another buffer's batch holds seq 1
    assert state.verdict(3, A, _d(3)) == OTHER  # a batch without an epoch holds seq 3
    assert state.verdict(4, A, _d(4)) == NONE  # nothing under 4 yet: wait
    assert state.verdict(7, B, _d(7)) == NONE  # above the top


def test_only_the_last_window_is_listed() -> None:
    # 2000 seqs of A stored: top 2000, the listing covers 2000 - 1024 = 976 .. 2000, from = 976
    state = watermark.build([(s, A, _d(s)) for s in range(1, 2001)], 0)
    assert (state.seq, state.top, state.floor) == (2000, 2000, 976)
    assert min(state.batches) == 977
    assert state.verdict(977, A, _d(977)) == STORED
    assert state.verdict(976, A, _d(976)) == OTHER  # below the listing: cannot be confirmed there
    assert len(state.encode()) < 1024 * 16 + 200  # 16 digits per listed seq, one run


def test_two_batches_under_one_seq_are_both_listed() -> None:
    state = watermark.parse(watermark.build([(1, A, _d(1)), (1, B, _d(2))], 0).encode())
    assert state.verdict(1, A, _d(1)) == STORED
    assert state.verdict(1, B, _d(2)) == STORED


def test_the_contiguous_seq_walks_on_from_where_it_was() -> None:
    # seqs up to 10 are known stored; the rows hold 11 and 12, then 14
    state = watermark.build([(11, A, _d(11)), (12, A, _d(12)), (14, A, _d(14))], 10)
    assert (state.seq, state.top) == (12, 14)


@pytest.mark.parametrize("value", [b"{", b'{"v": 2}', b"[1]", b'{"v": 1, "seq": -1, "top": 0, "from": 0}',
                                   b'{"v": 1, "seq": 5, "top": 4, "from": 0, "epochs": {}}',
                                   b'{"v": 1, "seq": 0, "top": 4, "from": 0, "epochs": {"a": [[1, "abc"]]}}',
                                   b'{"v": 1, "seq": 0, "top": 4, "from": 0, "epochs": []}'])
def test_an_unreadable_value_is_refused_naming_the_problem(value: bytes) -> None:
    with pytest.raises(ValueError, match="stored watermark"):
        watermark.parse(value)


def test_an_empty_value_is_nothing_stored() -> None:
    assert watermark.parse(b"") == Stored(0, 0, 0, {}, legacy=True)


def test_a_site_whose_edge_has_epochs_gets_the_listing_even_before_one_is_stored() -> None:
    """The legacy batches 1 and 2 hold the seqs a new edge's batches came under: the cloud
    stores neither of those, and its edge must still see who holds them."""
    state = watermark.build([(1, "", ""), (2, "", "")], 0, listing=True)
    assert not state.legacy
    assert watermark.parse(state.encode()).verdict(2, A, _d(2)) == OTHER
    assert json.loads(state.encode())["epochs"] == {"": [[1, "0" * 32]]}
