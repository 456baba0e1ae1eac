"""`domuchet edge status`: fetch the edge agent's local status endpoint and print it for a person.

The URL comes from --url, else from [edge] status_host/status_port (config file or
DOMUCHET_EDGE_* environment), else http://127.0.0.1:8081/status. Exit code 0 when the agent answered, 1 when it did not.
Tests: tests/integration/test_edge_status.py.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any, TextIO


def status_url(doc: dict[str, Any], url: str | None) -> str:
    if url:
        return url if url.rstrip("/").endswith("/status") else url.rstrip("/") + "/status"
    edge = doc.get("edge", {})
    host = os.environ.get("DOMUCHET_EDGE_STATUS_HOST", edge.get("status_host", "127.0.0.1"))
    port = os.environ.get("DOMUCHET_EDGE_STATUS_PORT", edge.get("status_port", 8081))
    return f"http://{host}:{port}/status"


def fetch(url: str, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - an operator-given local URL
        return json.loads(resp.read())


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB"


def render(s: dict[str, Any], out: TextIO) -> None:
    b, sync, disk = s["buffer"], s["sync"], s["disk"]
    w = out.write
    w(f"edge site {s['site']} at {_when(s['now'])}\n")
    if sync["nats_connected"]:
        nats = "connected"
    else:
        down = sync["nats_down_for_s"]
        nats = "DISCONNECTED" + (f" for {down:.0f} s" if down is not None else "")
    w(f"  cloud (NATS {sync['nats_url']}): {nats}\n")
    if s.get("mqtt_connected") is not None:
        w(f"  LoRaWAN feed (MQTT): {'connected' if s['mqtt_connected'] else 'DISCONNECTED'}\n")
    w(f"  last sync: {_when(sync['last_sync_at'])} ({_ago(sync['last_sync_age_s'])}); "
      f"batches published {sync['published_batches']}, cloud stored up to batch {sync['stored_watermark']}\n")
    oldest = "none" if b["oldest_unsynced_age_s"] is None else _ago(b["oldest_unsynced_age_s"]).replace(" ago", "")
    w(f"  buffer: {b['values']} values, {b['unsynced_values']} not yet stored in the cloud "
      f"(oldest waiting {oldest}); batches: "
      + (", ".join(f"{n} {state}" for state, n in sorted(b["batches"].items())) or "none") + "\n")
    w(f"  disk budget: {_mib(disk['used_bytes'])} of {_mib(disk['budget_bytes'])} ({disk['used_pct']:.1f} %), "
      f"level {disk['level'].upper() if disk['level'] != 'ok' else 'ok'}")
    if disk["evicted_unsynced_values"]:
        w(f"; {disk['evicted_unsynced_values']} UNSYNCED values evicted (see events)")
    w("\n")
    w(f"  open gaps: {s['open_gaps']}, lost periods: {s['lost_periods']}\n")
    w(f"  devices ({len(s['devices'])}):\n")
    for d in s["devices"]:
        offset = "—" if d["clock_offset_s"] is None else f"{d['clock_offset_s']:+.1f} s"
        line = (f"    {d['serial']:<12} {d['model']:<22} {d['transport']:<10} last read {_ago(d['last_ok_age_s'])}, "
                f"clock {offset}")
        if d["clock_corrections"]:
            line += f" ({d['clock_corrections']} corrections)"
        if d["open_gaps"]:
            line += f", {d['open_gaps']} open gaps (oldest {d['oldest_gap']})"
        if d["lost_periods"]:
            line += f", {d['lost_periods']} periods lost"
        if d["last_error"]:
            line += f", error: {d['last_error']}"
        w(line + "\n")
    if s["events"]:
        w("  recent events:\n")
        for e in s["events"]:
            detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
            w(f"    {_when(e['at'])} {e['kind']} {e['meter']} count={e['count']} {detail}".rstrip() + "\n")


def main(doc: dict[str, Any], url: str | None, out: TextIO | None = None) -> int:
    target = status_url(doc, url)
    try:
        snap = fetch(target)
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"domuchet edge status: no answer from {target}: {reason} (is the edge agent running?)",
              file=sys.stderr)
        return 1
    render(snap, out or sys.stdout)
    return 0
