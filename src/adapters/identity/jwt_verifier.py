"""`IdentityVerifier` for RS256/ES256 bearer JWTs (Clerk-style session tokens) via PyJWT."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import jwt

from domain.errors import NotAuthenticated
from domain.values import Principal, SecretValue, is_valid_user_id

ALGORITHMS = ("RS256", "ES256")

# Verifying a signature costs ~100 µs of Python per request (PERFORMANCE.md); a token that verified
# once stays valid until its `exp`, so the result is remembered, keyed by a hash of the token.
_CACHE_SIZE = 10_000
_EXPIRY_MARGIN_SECONDS = 5


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_file: Path | None = None,
        jwks_url: str | None = None,
        roles_claim: str = "roles",
        algorithms: Sequence[str] = ALGORITHMS,
        leeway_seconds: int = 0,
    ) -> None:
        if (public_key_file is None) == (jwks_url is None):
            raise ValueError("exactly one of public_key_file and jwks_url is required")
        self._static_key = public_key_file.read_text() if public_key_file else None
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        hit = self._verified.get(digest)
        now = time.time()
        if hit is not None:
            valid_until, principal = hit
            if now < valid_until:
                return principal
            del self._verified[digest]
        claims = self._decode(token)
        principal = self._principal(claims, token)
        nbf = claims.get("nbf")
        if nbf is None or nbf <= now:  # a not-yet-valid token is not remembered
            self._remember(digest, float(claims["exp"]) - _EXPIRY_MARGIN_SECONDS, principal)
        return principal

    def _decode(self, token: str) -> dict:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
            else:
                assert self._static_key is not None  # __init__ requires one of the two
                key = self._static_key
            return jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise NotAuthenticated("the token is not valid yet") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise NotAuthenticated("the token was issued for another service") from None
        except jwt.PyJWKClientError:
            raise NotAuthenticated("the token's signing key is unknown") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("the token is malformed or its signature does not verify") from None

    def _principal(self, claims: dict, token: str) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not is_valid_user_id(subject):
            raise NotAuthenticated("the token's subject is not a valid user id")
        return Principal(
            user_id=subject,
            is_admin="admin" in _roles(claims.get(self._roles_claim)),
            credential=SecretValue(token),
        )

    def _remember(self, digest: bytes, valid_until: float, principal: Principal) -> None:
        self._verified[digest] = (valid_until, principal)
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)


def _roles(raw: object) -> frozenset[str]:
    """A list of strings or a space/comma separated string; any other shape grants no role."""
    if isinstance(raw, str):
        return frozenset(raw.replace(",", " ").split())
    if isinstance(raw, list):
        return frozenset(role for role in raw if isinstance(role, str))
    return frozenset()
