"""Who may use which NATS subjects (DESIGN.md sections 6 and 7): the cloud user and one user per site.

Pure data: the permission lists that cloud/nats_auth.py renders into the nats-server config
(deploy/nats/accounts.conf) and the per-site inbox prefix an edge connects with
(edge/nats_auth.py). A site may publish its own ``du.<site>.up.>`` subjects, use its own
durable consumer ``edge-<site>`` on DU_DOWN (filtered to ``du.<site>.down.cmd``), read its own
key of the DU_STORED bucket by direct get, and receive replies on its own inbox prefix only, so
that it never sees another site's commands or replies. Tests: tests/integration/test_site_permissions.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from protocol import subjects

JS_API = "$JS.API"


def site_inbox_prefix(site: str) -> str:
    """The inbox prefix of a site's connection; replies to anyone else are out of its reach.

    The cloud keeps nats' default ``_INBOX.<nuid>``; a nuid token is 22 characters long, never
    the word ``site``, so the two never overlap.
    """
    return f"_INBOX.site.{subjects.check_site(site)}"


def site_permissions(site: str) -> dict[str, dict[str, list[str]]]:
    """The publish and subscribe allow-lists of a site's user (everything else is denied)."""
    subjects.check_site(site)
    consumer = subjects.edge_consumer(site)
    down = subjects.STREAM_DOWN
    kv_stream = f"KV_{subjects.STORED_BUCKET}"
    return {
        "publish": {"allow": [
            f"du.{site}.up.>",
            # its command consumer: create or update it with its own filter only (the server checks
            # that the filter in the request matches the subject), read its info, fetch, acknowledge
            f"{JS_API}.CONSUMER.CREATE.{down}.{consumer}.{subjects.command_subject(site)}",
            f"{JS_API}.CONSUMER.INFO.{down}.{consumer}",
            f"{JS_API}.CONSUMER.MSG.NEXT.{down}.{consumer}",
            f"$JS.ACK.{down}.{consumer}.>",
            # the stored watermark: its own key by direct get (the bucket needs allow_direct);
            # STREAM.INFO is what nats.py's js.key_value() asks first (bucket config, no values)
            f"{JS_API}.STREAM.INFO.{kv_stream}",
            f"{JS_API}.DIRECT.GET.{kv_stream}.$KV.{subjects.STORED_BUCKET}.{site}",
            # nats.py looks a stream up by subject when a pull subscription names none
            f"{JS_API}.STREAM.NAMES",
        ]},
        "subscribe": {"allow": [f"{site_inbox_prefix(site)}.>"]},
    }


def cloud_permissions() -> dict[str, dict[str, list[str]]]:
    """The cloud's user: every site subject, the JetStream API and acknowledgements, the buckets."""
    return {
        "publish": {"allow": ["du.>", "$JS.API.>", "$JS.ACK.>", "$KV.>", "_INBOX.>"]},
        "subscribe": {"allow": ["du.>", "$JS.EVENT.>", "$KV.>", "_INBOX.>"]},
    }


def redact_url(url: str) -> str:
    """A NATS URL list as it may be logged: each server's host and port, no user name or password."""
    out = []
    for one in url.split(","):
        parts = urlsplit(one.strip())
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        out.append(urlunsplit(parts._replace(netloc=netloc)) if parts.scheme else one.strip())
    return ",".join(out)
