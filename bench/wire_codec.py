"""Wire codec throughput: msgpack batches (protocol/wire.py) against JSON per record.

Run: python -m bench.wire_codec [--quick]. Prints what it does, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, decode_batch, encode_batch


def records(n: int) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"223{i % 1000:05d}", 1 + i % 3, ArchiveKind.HOUR, Nature.INTEGRAL, 1_767_225_600 + 3600 * i,
                          {"Q": 12.345678 + i, "V1": 1.5, "V2": 1.49}, received_at=1_767_225_700.5) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 20_000 if ap.parse_args().quick else 200_000
    recs = records(n)
    print(f"encoding and decoding {n} archive records: msgpack batches of 500 vs one JSON document per record")

    t = time.perf_counter()
    size = 0
    for i in range(0, n, 500):
        data = encode_batch(Batch("bench", i // 500 + 1, tuple(recs[i:i + 500])))
        size += len(data)
        decode_batch(data)
    wire = n / (time.perf_counter() - t)

    t = time.perf_counter()
    json_size = 0
    for r in recs:
        doc = json.dumps({"meter": r.meter, "channel": r.channel, "kind": r.kind.value, "nature": r.nature.value,
                          "period_start": r.period_start, "values": r.values, "received_at": r.received_at})
        json_size += len(doc)
        json.loads(doc)
    baseline = n / (time.perf_counter() - t)
    print(f"msgpack batches: {wire:,.0f} records/s, {size / n:.1f} bytes/record (with validation)")
    print(f"JSON per record: {baseline:,.0f} records/s, {json_size / n:.1f} bytes/record (no validation)")
    print(json.dumps({"bench": "wire_codec", "records": n, "records_per_s": round(wire),
                      "baseline_json_records_per_s": round(baseline), "ratio": round(wire / baseline, 2),
                      "bytes_per_record": round(size / n, 1), "baseline_bytes_per_record": round(json_size / n, 1)}))


if __name__ == "__main__":
    main()
