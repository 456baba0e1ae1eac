"""`domuchet` command line: demo, nats, sim, edge, cloud, sql, deadletter. See `domuchet --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from domuchet import settings
from protocol.settings import ConfigError

log = logging.getLogger("domuchet")

EPILOG = """\
Every command reads one TOML config file (--config) with [nats], [sim], [edge] and [cloud]
tables; DOMUCHET_<TABLE>_<KEY> environment variables override single keys (for example
DOMUCHET_CLOUD_PORT=9090). Data lives under --data-dir (default ./domuchet-data): nats/, sim/,
edge/ and cloud/ inside it. Default loopback ports: NATS 4222, MQTT 1883, UI and /api 8080,
simulated Modbus TCP devices from 5020.

  domuchet demo                 the whole stack with a simulated building; open the printed URL
  domuchet nats                 the embedded NATS server (JetStream + MQTT listener)
  domuchet sim --scenario demo  simulated KARAT devices; one JSON line per device on stdout
  domuchet edge --config F      the edge agent ([edge] table with [[edge.meters]])
  domuchet edge status          a running edge agent's state (buffer, sync, devices, gaps, disk)
  domuchet cloud                ingest + services + HTTP API + UI
  domuchet sql "SELECT ..."     read-only ClickHouse query, tab-separated rows
  domuchet deadletter list      what the ingest could not store (time, subject, msg id, reason)
  domuchet deadletter replay    feed dead-lettered payloads through the ingest again [--id ID]
"""


def _logging(to: Path | None = None, level: str = "INFO") -> None:
    fmt = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    if to is not None:
        to.parent.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(filename=to, level=level, format=fmt, force=True)
    else:
        logging.basicConfig(stream=sys.stderr, level=level, format=fmt, force=True)
    logging.getLogger("pymodbus").setLevel(logging.ERROR)  # its deprecation notices every start


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="domuchet", description="ДомУчёт: remote metering of apartment buildings",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", type=Path, help="TOML config file")
        sp.add_argument("--data-dir", type=Path, default=None, help="data directory (default ./domuchet-data)")

    d = sub.add_parser("demo", help="run NATS, the simulated building, the edge and the cloud with its UI")
    common(d)
    d.add_argument("--port", type=int, help="UI and API port (default 8080)")
    d.add_argument("--speed", type=float, help="simulated seconds per wall second while the simulator catches up "
                                               "with the wall clock after a stop (default: the scenario's)")
    d.add_argument("--history-days", type=int, default=None,
                   help="on a fresh data directory, whole days of history the building starts with "
                        "(default: the scenario's, 62 for the demo)")
    d.add_argument("--scenario", default=None, help="scenario file or built-in name (default demo)")
    d.add_argument("--nats-port", type=int)
    d.add_argument("--mqtt-port", type=int)
    d.add_argument("--modbus-port", type=int)
    d.add_argument("--weather-port", type=int, help="the simulated weather station's HTTP port (default 8090)")
    d.add_argument("--billing-port", type=int, default=8095,
                   help="the simulated billing centre's HTTP port (default 8095; docs/billing.md)")

    n = sub.add_parser("nats", help="run the embedded nats-server with JetStream and MQTT")
    common(n)
    n.add_argument("--port", type=int)
    n.add_argument("--mqtt-port", type=int)

    s = sub.add_parser("sim", help="run simulated KARAT devices from a scenario")
    common(s)
    s.add_argument("--scenario")
    s.add_argument("--speed", type=float)
    s.add_argument("--lora-wakeup-s", type=float, default=None,
                   help="a radio device with downlinks queued uplinks after this many seconds (default: the "
                        "scenario's; 0: at its next hourly uplink, as in the field)")
    s.add_argument("--modbus-port", type=int)
    s.add_argument("--mqtt-port", type=int)
    s.add_argument("--weather-port", type=int, help="the simulated weather station's HTTP port (default 8090; "
                                                    "0: no station)")
    s.add_argument("--control-port", type=int, help="an HTTP port where POST /magnet/<DevEUI or serial> holds a "
                                                    "magnet to a LoRa device, waking it (default: none)")

    e = sub.add_parser("edge", help="run the edge agent, or `edge status` to print a running agent's state")
    common(e)
    e.add_argument("action", nargs="?", choices=("run", "status"), default="run",
                   help="run (default) or status: print the local status endpoint of a running agent")
    e.add_argument("--url", help="status endpoint (default: [edge] status_host/status_port, else 127.0.0.1:8081)")

    c = sub.add_parser("cloud", help="run ingest, services, API and UI")
    common(c)
    c.add_argument("--port", type=int)
    c.add_argument("--nats-url")
    c.add_argument("--clickhouse", help="ClickHouse DSN (default chdb://<data-dir>/cloud/clickhouse)")

    q = sub.add_parser("sql", help="run a read-only ClickHouse query and print tab-separated rows")
    common(q)
    q.add_argument("query")

    dl = sub.add_parser("deadletter", help="list or replay what the ingest could not store")
    common(dl)
    dl.add_argument("action", choices=("list", "replay"))
    dl.add_argument("--id", action="append", default=[], dest="ids",
                    help="replay only this dead-letter id or Nats-Msg-Id (repeatable)")
    dl.add_argument("--all", action="store_true", help="list: include entries already replayed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # every file a command makes (buffers, stores, credentials, logs) is its owner's only
    previous_umask = os.umask(0o077)
    data_dir: Path = args.data_dir or settings.DEFAULT_DATA_DIR
    try:
        doc = settings.read(args.config)
        if args.command == "demo":
            from domuchet.demo import run_demo
            return run_demo(args, doc, data_dir)
        if args.command == "nats":
            return _nats(args, doc, data_dir)
        if args.command == "sim":
            return _sim(args, doc, data_dir)
        if args.command == "edge" and args.action == "status":
            from domuchet import edge_status_cmd
            return edge_status_cmd.main(doc, args.url)
        if args.command == "edge":
            return _edge(args, doc, data_dir)
        if args.command == "cloud":
            return _cloud(args, doc, data_dir)
        if args.command == "deadletter":
            return _deadletter(args, doc, data_dir)
        return _sql(args, doc, data_dir)
    except ConfigError as exc:
        print(f"domuchet: bad config: {exc}", file=sys.stderr)
        return 2
    finally:
        os.umask(previous_umask)  # main() also runs inside other programs (the tests)


def _nats(args, doc, data_dir: Path) -> int:
    from domuchet import natsserver
    cfg = settings.nats(doc, args.config, port=args.port, mqtt_port=args.mqtt_port)
    conf = natsserver.write_config(cfg, data_dir / "nats")
    print(f"domuchet nats: users of the cloud, of the sites {', '.join(cfg.sites) or '(none yet: [nats] sites)'} "
          f"and of the LoRaWAN feed are in {natsserver.credentials_path(data_dir / 'nats')} (docs/deploy.md)",
          file=sys.stderr, flush=True)
    binary = natsserver.binary()
    os.execv(binary, [binary, "-c", str(conf)])  # noqa: S606 - replaces this process with nats-server
    return 0


def _sim(args, doc, data_dir: Path) -> int:
    from simulators.fleet import SimulatedFleet
    from simulators.runner import Endpoints
    from simulators.scenario import load_fleet
    _logging()
    cfg = settings.section(doc, "sim", settings.SimSettings, args.config, scenario=args.scenario, speed=args.speed,
                           modbus_port=args.modbus_port, mqtt_port=args.mqtt_port, weather_port=args.weather_port,
                           control_port=args.control_port)
    local = _local_credentials(data_dir)
    if local is not None and not cfg.mqtt_user:  # `domuchet nats` of the same data directory: the feed's user
        from dataclasses import replace as with_changes

        from domuchet.natsserver import LORA_USER
        cfg = with_changes(cfg, mqtt_user=LORA_USER, mqtt_password=local.lora)
    fleet = load_fleet(cfg.scenario)  # one building or many; building k serves Modbus TCP on modbus_port + k
    if cfg.speed:
        fleet = fleet.with_speed(cfg.speed)
    if args.lora_wakeup_s is not None:
        fleet = replace(fleet, scenarios=tuple(replace(sc, lora_wakeup_s=args.lora_wakeup_s)
                                               for sc in fleet.scenarios))
    sim = SimulatedFleet(fleet, data_dir / "sim", Endpoints(cfg.host, cfg.modbus_port, cfg.mqtt_host, cfg.mqtt_port,
                                                                     cfg.mqtt_user, cfg.mqtt_password,
                                                                     control_port=cfg.control_port))

    async def run() -> None:
        stop = _stop_on_signals()
        jobs = [sim.run(sys.stdout, stop)]
        if cfg.weather_port:  # the fleet's weather as a station the cloud's weather feed reads
            jobs.append(_weather_station(fleet.scenarios[0].weather, stop, cfg.host, cfg.weather_port))
        await asyncio.gather(*jobs)
    asyncio.run(run())
    return 0


async def _weather_station(seed: int, stop: asyncio.Event, host: str, port: int) -> None:
    """The simulated weather station beside the devices; a port in use stops the station, not the devices."""
    from simulators.weather_station import run_station
    try:
        await run_station(seed, stop, host, port)
    except OSError as exc:
        logging.getLogger("domuchet.sim").error("event=weather_station_failed host=%s port=%d error=%s", host, port,
                                                exc)


def _edge(args, doc, data_dir: Path) -> int:
    from edge.agent import EdgeAgent
    from edge.config import EdgeConfig
    _logging()
    section = dict(doc.get("edge", {}))
    section.setdefault("data_dir", str(data_dir / "edge"))
    local = _local_credentials(data_dir)
    if local is not None and not section.get("nats_user") and section.get("site") in local.sites:
        # `domuchet nats` of the same data directory made this site's user and the LoRaWAN feed's
        from domuchet.natsserver import LORA_USER
        user, password = local.site_user(section["site"])
        section.update(nats_user=user, nats_password=password)
        section.setdefault("mqtt_user", LORA_USER)
        section.setdefault("mqtt_password", local.lora)
    config = settings.section({"edge": section}, "edge", EdgeConfig, args.config)

    async def run() -> None:
        await EdgeAgent(config).run(_stop_on_signals())
    asyncio.run(run())
    return 0


def _cloud_config(args, doc, data_dir: Path, **overrides):
    from cloud.config import CloudConfig
    section = dict(doc.get("cloud", {}))
    section.setdefault("data_dir", str(data_dir / "cloud"))
    return settings.section({"cloud": section}, "cloud", CloudConfig, args.config, **overrides)


def _cloud(args, doc, data_dir: Path) -> int:
    from domuchet.cloud_process import run_cloud
    _logging()
    config = _cloud_config(args, doc, data_dir, port=args.port, nats_url=args.nats_url,
                           clickhouse_dsn=args.clickhouse)
    local = _local_credentials(data_dir)
    if local is not None and "@" not in config.nats_url:  # `domuchet nats` of the same data directory
        from dataclasses import replace as with_changes

        from domuchet.natsserver import CLOUD_USER, with_user
        config = with_changes(config, nats_url=with_user(config.nats_url, CLOUD_USER, local.cloud))
    run_cloud(config)
    return 0


def _local_credentials(data_dir: Path):
    """The credentials `domuchet nats` made in this data directory, if it did."""
    from domuchet import natsserver
    if not natsserver.credentials_path(data_dir / "nats").exists():
        return None
    try:
        return natsserver.read_credentials(data_dir / "nats")
    except ValueError as exc:
        raise ConfigError(str(natsserver.credentials_path(data_dir / "nats")), "(file)", str(exc)) from exc


def _sql(args, doc, data_dir: Path) -> int:
    # the statement is judged by ClickHouse's parser (cloud/storage/sql_guard.py), in the running
    # cloud or in the storage opened here, never by a pattern over the text
    from cloud.storage.clickhouse import QueryError, ReadOnlyViolation
    from domuchet.cloud_process import local_api_file, open_storage
    config = _cloud_config(args, doc, data_dir)
    api = local_api_file(config.data_dir)
    if api.exists():  # a cloud is running on this data directory: ask it
        info = json.loads(api.read_text())
        req = urllib.request.Request(info["url"] + "/api/local/sql", data=json.dumps({"sql": args.query}).encode(),  # noqa: S310
                                     headers={"Content-Type": "application/json", "X-Local-Token": info["token"]})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback URL we wrote
                rows = json.loads(resp.read())["rows"]
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            refused = "refused: " if body.get("code") == "read_only" else ""
            print(f"domuchet sql: {refused}{body.get('message', exc.reason)}", file=sys.stderr)
            return 2
        except urllib.error.URLError:
            rows = None  # stale file: the cloud is gone; read the directory ourselves
        if rows is not None:
            _print_rows(rows)
            return 0
    _, ch = open_storage(config)
    try:
        _, rows = ch.read_only_sync(args.query)
    except ReadOnlyViolation as exc:
        print(f"domuchet sql: refused: {exc}", file=sys.stderr)
        return 2
    except QueryError as exc:
        print(f"domuchet sql: {exc}", file=sys.stderr)
        return 2
    finally:
        ch.close_sync()
    _print_rows(rows)
    return 0


def _deadletter(args, doc, data_dir: Path) -> int:
    from domuchet import deadletter_cmd
    from domuchet.cloud_process import local_api_file
    config = _cloud_config(args, doc, data_dir)
    api = local_api_file(config.data_dir)
    info = json.loads(api.read_text()) if api.exists() else None
    return deadletter_cmd.run(args.action, config, info, ids=args.ids, include_replayed=args.all)


def _print_rows(rows) -> None:
    for row in rows:
        print("\t".join("" if v is None else str(v) for v in row))


if __name__ == "__main__":
    sys.exit(main())
