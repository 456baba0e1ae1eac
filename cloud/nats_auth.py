"""The nats-server ``accounts`` block: the cloud user and one user per site (deploy/nats/accounts.conf).

``accounts_conf`` renders it from the permission lists of protocol/nats_access.py; a site
authenticates with a password (plain, a bcrypt hash, or ``$ENV_VAR`` read by nats-server from its
environment) or with an nkey (the config holds only the public key; the seed stays on the
gateway). Print one site's user block to paste into the config with
``python -m cloud.nats_auth site-user SITE [--password-env VAR | --nkey UPUBLICKEY]``.
Tests: tests/integration/test_site_permissions.py, tests/integration/test_nats_cluster.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from protocol import nats_access, subjects

ACCOUNT = "DU"
_ENV = re.compile(r"^\$[A-Z_][A-Z0-9_]*$")
_NKEY = re.compile(r"^U[A-Z2-7]{55}$")


@dataclass(frozen=True, slots=True)
class SiteUser:
    """A site's credential: ``password`` (plain, bcrypt ``$2a$…`` or ``$ENV_VAR``) or ``nkey`` (public key)."""

    site: str
    password: str = ""
    nkey: str = ""

    def __post_init__(self) -> None:
        subjects.check_site(self.site)
        if bool(self.password) == bool(self.nkey):
            raise ValueError(f"site {self.site}: give exactly one of password and nkey")
        if self.nkey and not _NKEY.match(self.nkey):
            raise ValueError(f"site {self.site}: nkey must be a user public key (U followed by 55 base32 letters)")


def _value(text: str) -> str:
    """A config string; ``$NAME`` stays a bare variable reference that nats-server takes from its environment."""
    return text if _ENV.match(text) else json.dumps(text)


def _permissions(perms: Mapping[str, Mapping[str, Sequence[str]]], indent: str) -> str:
    lines = [f"{indent}permissions: {{"]
    for direction, rules in perms.items():
        lines.append(f"{indent}  {direction}: {{")
        for rule, items in rules.items():
            lines.append(f"{indent}    {rule}: [")
            lines.extend(f"{indent}      {json.dumps(item)}" for item in items)
            lines.append(f"{indent}    ]")
        lines.append(f"{indent}  }}")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def site_user_block(user: SiteUser, indent: str = "      ") -> str:
    """One entry of the account's ``users`` list."""
    who = (f"{indent}user: {_value('site-' + user.site)}\n{indent}password: {_value(user.password)}"
           if user.password else f"{indent}nkey: {json.dumps(user.nkey)}")
    # NATS clients only: not MQTT or websockets, whose topics would map onto the same subjects
    who += f"\n{indent}allowed_connection_types: [\"STANDARD\"]"
    return (f"{indent[:-2]}{{\n{indent}# site {user.site}: its own subjects only\n{who}\n"
            f"{_permissions(nats_access.site_permissions(user.site), indent)}\n{indent[:-2]}}}")


def mqtt_account(name: str, user: str, password: str) -> str:
    """An account of MQTT clients only, in a subject space of its own (the LoRaWAN feed): it can
    never publish on the DU account's subjects."""
    return (f"  {name} {{\n    jetstream: enabled\n    users: [\n"
            f"      {{ user: {json.dumps(user)}, password: {_value(password)}, "
            f"allowed_connection_types: [\"MQTT\"] }}\n"
            f"    ]\n  }}")


def accounts_conf(cloud_password: str, sites: Sequence[SiteUser], system_password: str = "",
                  more_accounts: Sequence[str] = ()) -> str:
    """The ``accounts`` block (and ``system_account`` when a system user's password is given);
    ``more_accounts`` are further account entries (e.g. ``mqtt_account``)."""
    if not cloud_password:
        raise ValueError("cloud_password: required")
    users = [f"      {{\n        user: \"cloud\"\n        password: {_value(cloud_password)}\n"
             f"{_permissions(nats_access.cloud_permissions(), '        ')}\n      }}"]
    users += [site_user_block(s, "        ") for s in sites]
    out = ["# written by cloud/nats_auth.py: the cloud user and one user per site (docs/deploy.md)",
           "accounts {",
           f"  {ACCOUNT} {{",
           "    jetstream: enabled",
           "    users: [",
           "\n".join(users),
           "    ]",
           "  }"]
    out += list(more_accounts)
    if system_password:
        out += ["  SYS {", "    users: [", f"      {{ user: \"admin\", password: {_value(system_password)} }}",
                "    ]", "  }"]
    out.append("}")
    if system_password:
        out.append("system_account: SYS")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloud.nats_auth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("site-user", help="print one site's user entry for the accounts block")
    s.add_argument("site")
    group = s.add_mutually_exclusive_group(required=True)
    group.add_argument("--password-env", help="environment variable of nats-server holding the password")
    group.add_argument("--nkey", help="the site's user public key (from `nk -gen user -pubout`)")
    args = parser.parse_args(argv)
    try:
        user = SiteUser(args.site, password=f"${args.password_env}" if args.password_env else "",
                        nkey=args.nkey or "")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(site_user_block(user))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
