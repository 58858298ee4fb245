"""A signing key pair for development, so `make run` needs no identity provider.

The private key lives under the data directory with 0600 permissions; this is for development
only: production verifies tokens from the real identity provider (JWKS or PEM).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_ISSUER = "mirage-dev"
DEV_AUDIENCE = "mirage-secrets"


def ensure_dev_keypair(directory: Path) -> tuple[Path, Path]:
    """Create (once) and return (private key file, public key file)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path = directory / "dev-signing-key.pem"
    public_path = directory / "dev-signing-key.pub.pem"
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    if not public_path.exists():  # derived from the private key, so a lost one is simply rebuilt
        loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        public_path.write_bytes(
            loaded.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path, public_path


def issue_token(
    private_key_file: Path,
    subject: str,
    *,
    admin: bool = False,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    ttl_seconds: int = 12 * 3600,
    roles_claim: str = "roles",
) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        roles_claim: ["admin"] if admin else [],
    }
    return jwt.encode(claims, private_key_file.read_bytes(), algorithm="RS256")
