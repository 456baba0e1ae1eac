"""What the cloud's guards cost: a `domuchet sql` query through the read-only path
(cloud/storage/sql_guard.py: ClickHouse's parser normalises and explains the statement, then it
runs on a connection of its own with limits) against the same query sent straight to chDB, and
a login through the login guard (cloud/services/login_guard.py) against the scrypt check alone.

Baselines in the same run: the raw chDB query and the bare ``verify_password``. Targets: the
guard adds under 50 ms to a query and under 10 ms to a login.

Run: python -m bench.guards [--repeat N]. Prints what it does, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cloud.seed import UserSeed, seed_company
from cloud.services.auth import AuthService, hash_password, verify_password
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

QUERY = "SELECT count(), sum(number) FROM numbers(100000)"


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-guards-"))
    try:
        ch = ClickHouse(f"chdb://{root / 'clickhouse'}", "domuchet")
        ch.open_sync()
        try:
            ch.read_only_sync(QUERY)  # the read-only connection is made on first use
            raw = _median_ms(lambda: ch.client.query(QUERY), args.repeat)
            guarded = _median_ms(lambda: ch.read_only_sync(QUERY), args.repeat)
        finally:
            ch.close_sync()
        print(f"query {QUERY!r}: straight to chDB {raw:.1f} ms, through the read-only guard {guarded:.1f} ms "
              f"(median of {args.repeat})")

        registry = Registry(root / "registry.db")
        seed_company(registry, "УК", "Казань", (UserSeed("disp", "Диспетчер", "dispatcher", "disp-pass-1"),))
        auth = AuthService(registry)
        stored = hash_password("disp-pass-1")
        bare = _median_ms(lambda: verify_password("disp-pass-1", stored), args.repeat)
        guarded_login = _median_ms(lambda: auth.login_sync("disp", "disp-pass-1", "127.0.0.1"), args.repeat)
        print(f"login: scrypt alone {bare:.1f} ms, login through the guard with a session {guarded_login:.1f} ms")
        print(json.dumps({"bench": "guards", "repeat": args.repeat, "query_raw_ms": round(raw, 2),
                          "query_guarded_ms": round(guarded, 2), "query_overhead_ms": round(guarded - raw, 2),
                          "login_scrypt_ms": round(bare, 2), "login_guarded_ms": round(guarded_login, 2),
                          "login_overhead_ms": round(guarded_login - bare, 2)}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
