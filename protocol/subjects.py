"""NATS subjects, streams and buckets of the edge <-> cloud wire (DESIGN.md section 6)."""

from __future__ import annotations

import re

STREAM_UP = "DU_UP"
STREAM_UP_SUBJECTS = "du.*.up.>"
ARCHIVE_SUBJECTS = "du.*.up.archive"
STREAM_DOWN = "DU_DOWN"
STREAM_DOWN_SUBJECTS = "du.*.down.>"
STORED_BUCKET = "DU_STORED"  # key = site, value = highest contiguous batch seq stored in ClickHouse

_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_site(site: str) -> str:
    """A site id is a subject token and a key-value key: lower-case letters, digits, '-' and '_'."""
    if not _SITE.match(site):
        raise ValueError(f"site id {site!r} must match {_SITE.pattern}")
    return site


def archive_subject(site: str) -> str:
    return f"du.{check_site(site)}.up.archive"


def event_subject(site: str) -> str:
    """Device and edge events and lost periods."""
    return f"du.{check_site(site)}.up.event"


def radio_subject(site: str) -> str:
    """The LoRaWAN packet log (uplinks and downlinks with radio metadata)."""
    return f"du.{check_site(site)}.up.radio"


def state_subject(site: str) -> str:
    """Command results and other state the edge reports."""
    return f"du.{check_site(site)}.up.state"


def command_subject(site: str) -> str:
    """Commands from the cloud to one site's edge agent (stream DU_DOWN)."""
    return f"du.{check_site(site)}.down.cmd"


def edge_consumer(site: str) -> str:
    """The durable pull consumer on DU_DOWN through which a site's edge receives its commands."""
    return f"edge-{check_site(site)}"


def site_of_subject(subject: str) -> str | None:
    parts = subject.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "du" else None
