"""How an edge agent authenticates to NATS: its site's user (password, creds file or nkey seed) and TLS.

``connect_options`` turns the configured fields into keyword arguments for ``nats.connect``;
a bad combination or a missing file raises ValueError naming the field. With ``site`` given,
the connection uses the site's own inbox prefix, the only one its NATS user may subscribe to
(protocol/nats_access.py). Pure apart from reading the files it is given.
Tests: tests/integration/test_site_permissions.py.
"""

from __future__ import annotations

import importlib.util
import ssl
from pathlib import Path
from typing import Any

from protocol import nats_access


def _file(field: str, path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"{field}: no such file {path!r}")
    return path


def _needs_nkeys(field: str) -> None:
    if importlib.util.find_spec("nkeys") is None:
        raise ValueError(f"{field}: needs the nkeys package (pip install nkeys)")


def tls_context(tls_ca: str, tls_cert: str, tls_key: str) -> ssl.SSLContext:
    """A client context that verifies the server (by ``tls_ca`` or the system's CAs) and, with a
    certificate and key, presents them (mutual TLS)."""
    if bool(tls_cert) != bool(tls_key):
        missing = "tls_key" if tls_cert else "tls_cert"
        raise ValueError(f"{missing}: required together with {'tls_cert' if tls_cert else 'tls_key'}")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=_file("tls_ca", tls_ca) if tls_ca else None)
    except ssl.SSLError as exc:
        raise ValueError(f"tls_ca: not a usable CA certificate file ({exc.reason or exc})") from exc
    if tls_cert:
        try:
            ctx.load_cert_chain(_file("tls_cert", tls_cert), _file("tls_key", tls_key))
        except ssl.SSLError as exc:
            raise ValueError(f"tls_cert: certificate and key do not load or match ({exc.reason or exc})") from exc
    return ctx


def connect_options(user: str, password: str, creds_file: str, nkey_seed_file: str, tls_ca: str, tls_cert: str,
                    tls_key: str, site: str = "") -> dict[str, Any]:
    """Keyword arguments for ``nats.connect``: at most one way to authenticate, TLS when any TLS field is set.

    An empty string means "not configured". ``site`` (optional) sets the site's inbox prefix.
    """
    ways = [name for name, value in (("user", user or password), ("creds_file", creds_file),
                                     ("nkey_seed_file", nkey_seed_file)) if value]
    if len(ways) > 1:
        raise ValueError(f"{ways[1]}: give only one of user/password, creds_file and nkey_seed_file")
    options: dict[str, Any] = {}
    if user or password:
        if not user:
            raise ValueError("user: required together with password")
        if not password:
            raise ValueError("password: required together with user")
        options.update(user=user, password=password)
    elif creds_file:
        _needs_nkeys("creds_file")
        options["user_credentials"] = _file("creds_file", creds_file)
    elif nkey_seed_file:
        _needs_nkeys("nkey_seed_file")
        options["nkeys_seed"] = _file("nkey_seed_file", nkey_seed_file)
    if tls_ca or tls_cert or tls_key:
        options["tls"] = tls_context(tls_ca, tls_cert, tls_key)
    if site:
        options["inbox_prefix"] = nats_access.site_inbox_prefix(site)
    return options
