"""The HS256 secret tokens are verified with: configured, or a development secret.

Its own module because three parts read it: the composition root (the
authenticator), the console (its session key is derived from it) and the CLI
(``token`` signs with it, ``serve`` creates it); none of them builds the others.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from .config import ConfigError, Settings

log = logging.getLogger(__name__)
SECRET_FILE = Path(".pss-ordering.secret")


def development_secret(settings: Settings, *, create: bool = False) -> str | None:
    """The HS256 secret: configured, or (with no asymmetric key either) a local random one.

    The generated secret lives in ``.pss-ordering.secret`` (mode 0600) in the
    working directory, so ``serve`` and ``token`` agree with no setup at all. Only
    ``serve`` creates it (``create``): any other command run from another directory
    would make a second secret whose tokens the server refuses, so there a missing
    file is a :class:`ConfigError` that says where the secret is looked for.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwt_public_key or settings.jwt_jwks_url:
        return None
    if not SECRET_FILE.exists():
        if not create:
            raise ConfigError(
                f"no PSS_JWT_SECRET and no development secret in {SECRET_FILE.resolve()} "
                "(serve creates it in the directory it runs in): run this command there, "
                "or set PSS_JWT_SECRET to the server's secret"
            )
        _create_secret_file()
    return SECRET_FILE.read_text().strip()


def known_secret(settings: Settings) -> str | None:
    """The secret to verify tokens with, if there is one; commands that verify none
    (``worker``, ``sla``, ``callbacks``) run without."""
    try:
        return development_secret(settings)
    except ConfigError:
        return None


def signature_hint(settings: Settings) -> str | None:
    """What a 401 for a bad signature adds in development mode (no configured key)."""
    if settings.jwt_secret or settings.jwt_public_key or settings.jwt_jwks_url:
        return None
    return (
        f"development mode: this server verifies tokens with the {SECRET_FILE} in the "
        "directory serve runs in; a token minted elsewhere was signed with another secret: "
        "run 'pss-ordering token' in that directory"
    )


def secret_source(settings: Settings) -> str:
    """Where tokens are verified from, for the commands to say (never the secret itself)."""
    if settings.jwt_secret:
        return "PSS_JWT_SECRET"
    if settings.jwt_public_key or settings.jwt_jwks_url:
        return "PSS_JWT_PUBLIC_KEY" if settings.jwt_public_key else "PSS_JWT_JWKS_URL"
    return f"development secret {SECRET_FILE.resolve()}"


def _create_secret_file() -> None:
    """Write the secret aside, then link it into place: processes that start together
    agree on one secret, and none ever reads a half-written file."""
    fd, written = tempfile.mkstemp(prefix=".pss-ordering.secret.", dir=SECRET_FILE.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp: mode 0600
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(written, SECRET_FILE)
        except FileExistsError:
            return  # another process created it first: use that one
        log.warning("no PSS_JWT_SECRET set: generated a development secret in %s", SECRET_FILE)
    finally:
        os.unlink(written)
