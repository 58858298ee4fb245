"""JwtVerifier: good RS256/ES256 tokens pass; forged, stale, misdirected and hostile tokens don't."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapters.identity import jwt_verifier as verifier_module
from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair, issue_token
from adapters.identity.jwt_verifier import JwtVerifier
from domain.errors import NotAuthenticated
from domain.values import Principal

pytestmark = pytest.mark.unit


ISSUER = "https://issuer.example.com"
AUDIENCE = "mirage-secrets"


@dataclass
class Keys:
    private: object
    public_file: Path
    public_pem: bytes


def _keys(private, path: Path) -> Keys:
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.write_bytes(pem)
    return Keys(private, path, pem)


@pytest.fixture(scope="module")
def rsa_private():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_private():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rsa_keys(rsa_private, tmp_path: Path) -> Keys:
    return _keys(rsa_private, tmp_path / "rsa.pub.pem")


@pytest.fixture
def ec_keys(tmp_path: Path) -> Keys:
    return _keys(ec.generate_private_key(ec.SECP256R1()), tmp_path / "ec.pub.pem")


@pytest.fixture
def verifier(rsa_keys: Keys) -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_file=rsa_keys.public_file)


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"sub": "user_2abc", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}
    merged = base | changes
    return {k: v for k, v in merged.items() if v is not None}


def sign(keys_or_private, algorithm: str = "RS256", **changes) -> str:
    private = keys_or_private.private if isinstance(keys_or_private, Keys) else keys_or_private
    return jwt.encode(claims(**changes), private, algorithm=algorithm)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def handmade(header: dict, payload: dict, signature: bytes = b"") -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(signature)}"


# -- accepted ------------------------------------------------------------------------------------


def test_good_rs256_token(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    assert verifier.verify(sign(rsa_keys)) == Principal(user_id="user_2abc", is_admin=False)


def test_good_es256_token(ec_keys: Keys) -> None:
    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_file=ec_keys.public_file)
    assert verifier.verify(sign(ec_keys, "ES256")) == Principal(user_id="user_2abc", is_admin=False)


def test_admin_role_makes_an_admin(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    assert verifier.verify(sign(rsa_keys, roles=["admin"])).is_admin is True
    assert verifier.verify(sign(rsa_keys, roles=["ops"])).is_admin is False


def test_custom_roles_claim_name(rsa_keys: Keys) -> None:
    verifier = JwtVerifier(
        issuer=ISSUER, audience=AUDIENCE, public_key_file=rsa_keys.public_file, roles_claim="org_roles"
    )
    assert verifier.verify(sign(rsa_keys, org_roles=["admin"])).is_admin is True
    assert verifier.verify(sign(rsa_keys, roles=["admin"], sub="other")).is_admin is False


def test_space_or_comma_separated_roles_string(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    assert verifier.verify(sign(rsa_keys, roles="ops,admin")).is_admin is True
    assert verifier.verify(sign(rsa_keys, roles="administrator", sub="u2")).is_admin is False


def test_roles_mapping_with_admin_false_is_not_admin(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    assert verifier.verify(sign(rsa_keys, roles={"admin": False})).is_admin is False


def test_numeric_roles_claim_is_not_admin(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    assert verifier.verify(sign(rsa_keys, roles=1)).is_admin is False


# -- refused -------------------------------------------------------------------------------------


def refuses(verifier: JwtVerifier, token: str) -> None:
    with pytest.raises(NotAuthenticated):
        verifier.verify(token)


def test_expired_token(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    refuses(verifier, sign(rsa_keys, exp=int(time.time()) - 60, iat=int(time.time()) - 600, nbf=None))


def test_not_yet_valid_token(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    token = sign(rsa_keys, nbf=int(time.time()) + 120)
    refuses(verifier, token)
    refuses(verifier, token)  # and it was not remembered as valid


def test_wrong_issuer(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    refuses(verifier, sign(rsa_keys, iss="https://evil.example.com"))


def test_wrong_audience(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    refuses(verifier, sign(rsa_keys, aud="another-service"))


def test_signed_by_another_key(verifier: JwtVerifier, other_rsa_private) -> None:
    refuses(verifier, sign(other_rsa_private))


def test_es256_token_against_an_rsa_key(verifier: JwtVerifier, ec_keys: Keys) -> None:
    refuses(verifier, sign(ec_keys, "ES256"))


def test_alg_none(verifier: JwtVerifier) -> None:
    refuses(verifier, handmade({"alg": "none", "typ": "JWT"}, claims()))


def test_hs256_signed_with_the_public_key_text(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims()).encode())}"
    mac = hmac.new(rsa_keys.public_pem, signing_input.encode(), hashlib.sha256).digest()
    refuses(verifier, handmade(header, claims(), mac))


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud"])
def test_missing_required_claim(verifier: JwtVerifier, rsa_keys: Keys, missing: str) -> None:
    refuses(verifier, sign(rsa_keys, **{missing: None}))


@pytest.mark.parametrize(
    "garbage", ["", "garbage", "a.b.c", "Bearer x", "....", "eyJhbGciOiJSUzI1NiJ9", "\x00\xff", "ü.ü.ü"]
)
def test_garbage(verifier: JwtVerifier, garbage: str) -> None:
    refuses(verifier, garbage)


@pytest.mark.parametrize(
    "subject", ["*", "+", "../x", "a/b", "..", "x" * 200, "ü", "", " ", "a\nb", 123, ["alice"], None]
)
def test_hostile_subjects(verifier: JwtVerifier, rsa_keys: Keys, subject) -> None:
    payload = claims()
    payload["sub"] = subject
    refuses(verifier, jwt.encode(payload, rsa_keys.private, algorithm="RS256"))


# -- the verified-token cache --------------------------------------------------------------------


def test_a_verified_token_is_accepted_again(verifier: JwtVerifier, rsa_keys: Keys) -> None:
    token = sign(rsa_keys, roles=["admin"])
    first = verifier.verify(token)
    assert verifier.verify(token) == first == Principal(user_id="user_2abc", is_admin=True)


def test_a_cached_token_is_refused_once_its_exp_has_passed(
    verifier: JwtVerifier, rsa_keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    token = sign(rsa_keys, iat=now, nbf=now, exp=now + 30)
    assert verifier.verify(token).user_id == "user_2abc"

    later = now + 3600
    # Both clocks move: the verifier's cache clock and PyJWT's own clock for `exp`.
    monkeypatch.setattr(verifier_module.time, "time", lambda: float(later))

    class _Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(later, tz or UTC)

    monkeypatch.setattr(jwt.api_jwt, "datetime", _Later)
    refuses(verifier, token)


def test_requires_exactly_one_key_source(rsa_keys: Keys) -> None:
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_file=rsa_keys.public_file, jwks_url="https://x")


# -- development keys ----------------------------------------------------------------------------


def test_dev_keypair_is_created_once_with_a_private_file_mode(tmp_path: Path) -> None:
    private, public = ensure_dev_keypair(tmp_path / "auth")
    first = (private.read_bytes(), public.read_bytes())
    assert stat.S_IMODE(private.stat().st_mode) == 0o600

    again = ensure_dev_keypair(tmp_path / "auth")

    assert again == (private, public)
    assert (private.read_bytes(), public.read_bytes()) == first


def test_dev_token_verifies(tmp_path: Path) -> None:
    private, public = ensure_dev_keypair(tmp_path / "auth")
    verifier = JwtVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_file=public)
    assert verifier.verify(issue_token(private, "alice")) == Principal(user_id="alice", is_admin=False)
    assert verifier.verify(issue_token(private, "root", admin=True)) == Principal(user_id="root", is_admin=True)


def test_dev_token_is_refused_by_a_production_verifier(tmp_path: Path, rsa_keys: Keys) -> None:
    private, _ = ensure_dev_keypair(tmp_path / "auth")
    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_file=rsa_keys.public_file)
    refuses(verifier, issue_token(private, "alice", issuer=ISSUER, audience=AUDIENCE))
