"""Edge settings that would break the sync's contract with the cloud are refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfig
from protocol import watermark


def _config(**overrides: object) -> EdgeConfig:
    return EdgeConfig(site="s1", time_zone="Europe/Moscow", data_dir=Path("/tmp/unused"), **overrides)


def test_unconfirmed_batches_are_bounded_by_the_clouds_listing_window() -> None:
    # the cloud lists the last 1024 seqs below its highest: 1024 may await confirmation, 1025 may not
    assert watermark.WINDOW == 1024
    assert _config(max_unconfirmed_batches=1024).max_unconfirmed_batches == 1024
    with pytest.raises(ValueError, match=r"max_unconfirmed_batches must be 1..1024 \(the batches the cloud lists "
                                         r"below its highest seq\), got 1025"):
        _config(max_unconfirmed_batches=1025)
    assert _config().max_unconfirmed_batches == 1000  # the default fits
