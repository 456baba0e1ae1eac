"""Per-site NATS credentials (issue 5) on a real nats-server with the accounts block of
cloud/nats_auth.py, over mutual TLS with a throwaway CA: site A publishes its own subjects,
uses its own command consumer and reads its own watermark, and nothing of site B."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.js.api import KeyValueConfig, StorageType, StreamConfig

from cloud.nats_auth import SiteUser, accounts_conf
from domuchet import natsserver
from edge.nats_auth import connect_options
from protocol import subjects
from tests.conftest import free_port

CLOUD_PASSWORD = "cloud-secret-1"  # noqa: S105 - a throwaway server's password
PASSWORDS = {"a": "site-a-secret", "b": "site-b-secret"}


@dataclass(frozen=True, slots=True)
class Pki:
    ca: str
    cert: str  # the client certificate every connection presents (verify: true)
    key: str


def _key_and_cert(path: Path, name: str, issuer: tuple | None, server: bool) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1)))
    if issuer is None:  # the CA itself
        builder = builder.issuer_name(subject).add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                                             critical=True)
        signer = key
    else:
        builder = builder.issuer_name(issuer[1].subject)
        signer = issuer[0]
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    (path / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (path / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return key, cert


def make_pki(path: Path) -> Pki:
    path.mkdir(parents=True, exist_ok=True)
    ca = _key_and_cert(path, "ca", None, False)
    _key_and_cert(path, "server", ca, True)
    _key_and_cert(path, "client", ca, False)
    return Pki(str(path / "ca.pem"), str(path / "client.pem"), str(path / "client.key"))


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, Pki]]:
    """A nats-server requiring mutual TLS, with the cloud user and users for sites a and b."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    (tmp_path / "accounts.conf").write_text(accounts_conf(
        "$DU_NATS_CLOUD_PASSWORD", [SiteUser("a", password=PASSWORDS["a"]), SiteUser("b", password=PASSWORDS["b"])]))
    conf = tmp_path / "server.conf"
    conf.write_text(f"""server_name: "perm_{port}"
listen: "127.0.0.1:{port}"
jetstream {{ store_dir: "{tmp_path / 'js'}" }}
tls {{
  cert_file: "{tmp_path / 'pki' / 'server.pem'}"
  key_file: "{tmp_path / 'pki' / 'server.key'}"
  ca_file: "{pki.ca}"
  verify: true
}}
include "accounts.conf"
""")
    with open(tmp_path / "nats.log", "ab") as log:
        proc = subprocess.Popen([natsserver.binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                env={"DU_NATS_CLOUD_PASSWORD": CLOUD_PASSWORD})
    try:
        natsserver.wait_for_port("127.0.0.1", port, proc)
        yield f"nats://127.0.0.1:{port}", pki
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _connect(url: str, pki: Pki, user: str, password: str, site: str = "",
                   errors: list[str] | None = None) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))
    opts = connect_options(user, password, "", "", pki.ca, pki.cert, pki.key, site=site)
    return await nats.connect(url, error_cb=on_error, allow_reconnect=False, connect_timeout=5, **opts)


async def _cloud_setup(url: str, pki: Pki) -> nats.NATS:
    cloud = await _connect(url, pki, "cloud", CLOUD_PASSWORD)
    js = cloud.jetstream()
    await js.add_stream(StreamConfig(name=subjects.STREAM_UP, subjects=[subjects.STREAM_UP_SUBJECTS],
                                     storage=StorageType.FILE))
    await js.add_stream(StreamConfig(name=subjects.STREAM_DOWN, subjects=[subjects.STREAM_DOWN_SUBJECTS],
                                     storage=StorageType.FILE))
    kv = await js.create_key_value(KeyValueConfig(bucket=subjects.STORED_BUCKET, history=1, direct=True,
                                                  storage=StorageType.FILE))
    await kv.put("a", b"7")
    await kv.put("b", b"9")
    return cloud


async def _violation(errors: list[str], subject: str) -> None:
    """Wait for the server's permissions violation naming ``subject`` (sent asynchronously)."""
    for _ in range(100):
        if any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in errors):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no permissions violation for {subject}; errors: {errors}")


async def test_site_publishes_only_its_own_subjects(secured) -> None:
    url, pki = secured
    cloud = await _cloud_setup(url, pki)
    errors: list[str] = []
    site = await _connect(url, pki, "site-a", PASSWORDS["a"], "a", errors)
    js = site.jetstream()
    ack = await js.publish(subjects.archive_subject("a"), b"batch-a", headers={"Nats-Msg-Id": "a:1"})
    assert ack.stream == subjects.STREAM_UP
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await js.publish(subjects.archive_subject("b"), b"forged", headers={"Nats-Msg-Id": "b:1"}, timeout=1.0)
    await _violation(errors, "du.b.up.archive")
    info = await cloud.jetstream().stream_info(subjects.STREAM_UP, subjects_filter=">")
    assert info.state.subjects == {"du.a.up.archive": 1}  # nothing reached site b's subjects
    await site.close()
    await cloud.close()


async def test_site_reads_only_its_own_commands_and_watermark(secured) -> None:
    url, pki = secured
    cloud = await _cloud_setup(url, pki)
    cjs = cloud.jetstream()
    await cjs.publish(subjects.command_subject("a"), b"cmd-for-a")
    await cjs.publish(subjects.command_subject("b"), b"cmd-for-b")

    errors: list[str] = []
    site = await _connect(url, pki, "site-a", PASSWORDS["a"], "a", errors)
    js = site.jetstream()
    # its own durable consumer, created by the site itself with its own filter
    sub = await js.pull_subscribe(subjects.command_subject("a"), durable=subjects.edge_consumer("a"),
                                  stream=subjects.STREAM_DOWN)
    msgs = await sub.fetch(10, timeout=2)
    assert [m.data for m in msgs] == [b"cmd-for-a"]
    for m in msgs:
        await m.ack_sync()
    assert (await cjs.consumer_info(subjects.STREAM_DOWN, subjects.edge_consumer("a"))).num_ack_pending == 0

    # its own watermark by direct get; another site's key is refused
    kv = await js.key_value(subjects.STORED_BUCKET)
    assert (await kv.get("a")).value == b"7"
    with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
        await asyncio.wait_for(kv.get("b"), 1.5)
    await _violation(errors, "$KV.DU_STORED.b")

    # another site's consumer, its own consumer filtered on another site, a raw subscription, the inbox of all
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await js.pull_subscribe(subjects.command_subject("b"), durable=subjects.edge_consumer("b"),
                                stream=subjects.STREAM_DOWN)
    await _violation(errors, "edge-b")
    await site.close()
    site = await _connect(url, pki, "site-a", PASSWORDS["a"], "a", errors)
    js = site.jetstream()
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await js.add_consumer(subjects.STREAM_DOWN, durable_name="edge-a", name="edge-a",
                              filter_subject=subjects.command_subject("b"), timeout=1.0)
    await _violation(errors, "edge-a.du.b.down.cmd")
    await site.subscribe(subjects.command_subject("b"))
    await _violation(errors, "Subscription to \"du.b.down.cmd\"")
    await site.subscribe("_INBOX.>")
    await _violation(errors, "Subscription to \"_INBOX.>\"")
    assert (await cjs.consumer_info(subjects.STREAM_DOWN, subjects.edge_consumer("a"))).config.filter_subject == \
        subjects.command_subject("a")
    await site.close()
    await cloud.close()


async def test_wrong_password_plain_tcp_and_bad_options_are_refused(secured) -> None:
    url, pki = secured
    with pytest.raises(nats.errors.Error):
        await _connect(url, pki, "site-a", PASSWORDS["b"])  # b's password is not a's
    with pytest.raises((nats.errors.Error, OSError, asyncio.TimeoutError)):
        await nats.connect(url, user="site-a", password=PASSWORDS["a"], allow_reconnect=False, connect_timeout=2,
                           max_reconnect_attempts=0)  # no TLS: the server requires it
    with pytest.raises(ValueError, match=r"^password: required"):
        connect_options("site-a", "", "", "", "", "", "")
    with pytest.raises(ValueError, match=r"^creds_file: give only one"):
        connect_options("site-a", "pw", "/etc/hostname", "", "", "", "")
    with pytest.raises(ValueError, match=r"^tls_ca: no such file"):
        connect_options("", "", "", "", "/nonexistent/ca.pem", "", "")
    with pytest.raises(ValueError, match=r"^tls_key: required together with tls_cert"):
        connect_options("", "", "", "", pki.ca, pki.cert, "")
    with pytest.raises(ValueError, match=r"^tls_cert: certificate and key do not load"):
        connect_options("", "", "", "", pki.ca, pki.ca, pki.key)
    assert connect_options("", "", "", "", "", "", "") == {}
    assert connect_options("u", "p", "", "", "", "", "", site="a") == {"user": "u", "password": "p",
                                                                        "inbox_prefix": "_INBOX.site.a"}


def test_deploy_accounts_conf_is_what_the_generator_writes() -> None:
    """deploy/nats/accounts.conf is rendered by cloud/nats_auth.py (docs/deploy.md says how)."""
    shipped = (Path(__file__).resolve().parents[2] / "deploy" / "nats" / "accounts.conf").read_text()
    assert shipped == accounts_conf("$DU_NATS_CLOUD_PASSWORD",
                                    [SiteUser("demo", password="$DU_NATS_SITE_DEMO_PASSWORD")],  # noqa: S106
                                    "$DU_NATS_SYS_PASSWORD")


def test_site_user_entry_is_printed_for_a_password_variable_or_an_nkey(capsys) -> None:
    from cloud.nats_auth import main

    assert main(["site-user", "b-2", "--password-env", "DU_NATS_SITE_B2_PASSWORD"]) == 0
    out = capsys.readouterr().out
    assert 'user: "site-b-2"' in out
    assert "password: $DU_NATS_SITE_B2_PASSWORD" in out
    assert '"du.b-2.up.>"' in out
    nkey = "U" + "A" * 55
    assert main(["site-user", "b-2", "--nkey", nkey]) == 0
    out = capsys.readouterr().out
    assert f'nkey: "{nkey}"' in out
    assert "password" not in out
    assert main(["site-user", "B 2", "--nkey", nkey]) == 2
    assert "site id 'B 2' must match" in capsys.readouterr().err
