"""Bearer-token authentication (api/auth.py): a verified JWT becomes a Caller."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from pss_ordering.api.auth import Authenticator, mint_token
from pss_ordering.domain.errors import Unauthorized
from pss_ordering.domain.identity import Caller, Role

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "alice", "roles": ["customer"], "exp": int(time.time()) + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(key: PrivateKeyTypes | str, algorithm: str, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm)  # type: ignore[arg-type]


def bearer(token: str) -> str:
    return "Bearer " + token


def rejected(auth: Authenticator, header: str | None, *fragments: str) -> None:
    with pytest.raises(Unauthorized) as info:
        auth.authenticate(header)
    for fragment in fragments:
        assert fragment in info.value.message


HS = Authenticator(secret=SECRET)


# --- HS256 ------------------------------------------------------------------------------------


def test_valid_hs256_token_gives_caller() -> None:
    token = mint_token(SECRET, "alice", ["customer", "pss"])

    assert HS.authenticate(bearer(token)) == Caller("alice", frozenset({Role.CUSTOMER, Role.PSS}))


def test_scheme_is_case_insensitive_and_token_trimmed() -> None:
    token = mint_token(SECRET, "alice", ["customer"])

    assert HS.authenticate("bearer   " + token + "  ").party_id == "alice"


def test_same_token_twice_gives_same_caller() -> None:
    token = mint_token(SECRET, "gov", ["governance"])

    assert HS.authenticate(bearer(token)) == HS.authenticate(bearer(token))


def test_roles_as_a_string_are_refused() -> None:
    """``roles`` is a list; a bare string is not read as one role (nor as its letters)."""
    rejected(HS, bearer(signed(SECRET, "HS256", roles="provider")), "'roles' must be a list")


def test_unknown_roles_are_dropped_when_a_known_one_remains() -> None:
    token = signed(SECRET, "HS256", roles=["admin", "governance", 7])

    assert HS.authenticate(bearer(token)).roles == {Role.GOVERNANCE}


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header: str | None) -> None:
    rejected(HS, header, "missing Authorization")


@pytest.mark.parametrize(
    "header",
    ["Basic YWxpY2U6cHc=", "Bearer", "Bearer    ", "Token abc", "Bearerabc"],
)
def test_wrong_scheme(header: str) -> None:
    rejected(HS, header, "Bearer <JWT>")


def test_bad_signature() -> None:
    rejected(HS, bearer(mint_token("another-secret-that-is-long-enough!!", "a", ["customer"])))


def test_tampered_payload() -> None:
    header, _, signature = mint_token(SECRET, "alice", ["customer"]).split(".")
    other_payload = mint_token(SECRET, "mallory", ["governance"]).split(".")[1]

    rejected(HS, bearer(f"{header}.{other_payload}.{signature}"), "invalid token")


def test_garbage_token() -> None:
    rejected(HS, bearer("not.a.jwt"), "invalid token")


def test_expired_token() -> None:
    rejected(HS, bearer(mint_token(SECRET, "a", ["customer"], lifetime_seconds=-30)), "expired")


def test_lifetime_beyond_the_maximum_is_refused() -> None:
    far = int(time.time()) + 10 * 365 * 86_400
    rejected(HS, bearer(signed(SECRET, "HS256", exp=far)), "lifetime exceeds", "86400")
    day_and_more = int(time.time()) + 86_400 + 3600
    rejected(HS, bearer(signed(SECRET, "HS256", exp=day_and_more)), "lifetime")


def test_lifetime_counts_from_iat_too() -> None:
    """A token issued long ago for long is refused although little of it remains."""
    now = int(time.time())
    token = signed(SECRET, "HS256", iat=now - 5 * 86_400, exp=now + 600)
    rejected(HS, bearer(token), "lifetime exceeds")


def test_a_longer_lifetime_may_be_allowed() -> None:
    week = 7 * 86_400
    auth = Authenticator(secret=SECRET, max_lifetime_seconds=week)
    token = mint_token(SECRET, "a", ["customer"], lifetime_seconds=week)
    assert auth.authenticate(bearer(token)).party_id == "a"
    rejected(HS, bearer(token), "lifetime exceeds")


def test_a_day_long_token_is_accepted_by_default() -> None:
    token = mint_token(SECRET, "a", ["customer"], lifetime_seconds=86_400)
    assert HS.authenticate(bearer(token)).party_id == "a"


def test_token_without_exp_is_refused() -> None:
    rejected(HS, bearer(signed(SECRET, "HS256", exp=None)), "exp")


def test_token_without_sub_is_refused() -> None:
    rejected(HS, bearer(signed(SECRET, "HS256", sub=None)), "sub")


@pytest.mark.parametrize("roles", [None, [], {"customer": True}, 3])
def test_missing_or_malformed_roles(roles: Any) -> None:
    token = signed(SECRET, "HS256", roles=roles)
    rejected(HS, bearer(token))


@pytest.mark.parametrize("roles", [["admin"], ["Customer"], ["root", "superuser"]])
def test_unknown_only_roles(roles: list[str]) -> None:
    rejected(HS, bearer(signed(SECRET, "HS256", roles=roles)), "none of the roles")


def test_unsigned_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]

    rejected(HS, bearer(token), "'none' is not accepted")


def test_alg_not_in_configured_list_is_refused() -> None:
    auth = Authenticator(secret=SECRET, algorithms=["RS256"])

    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"])), "'HS256' is not accepted")


def test_symmetric_tokens_refused_without_secret(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = Authenticator(secret=None, public_key=public_pem(rsa_key))

    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"])), "symmetric")


def test_hs256_signed_with_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """Algorithm confusion: the public key must never be used as an HMAC secret."""
    pem = public_pem(rsa_key)
    auth = Authenticator(secret=SECRET, public_key=pem)
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(
        f'{{"sub":"mallory","roles":["governance"],"exp":{int(time.time()) + 600}}}'.encode()
    ).decode()
    signature = jwt.utils.base64url_encode(
        hmac.new(pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    ).decode()

    rejected(auth, bearer(f"{header}.{payload}.{signature}"))


# --- RS256 / ES256 ----------------------------------------------------------------------------


def test_rs256_with_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = Authenticator(secret=None, public_key=public_pem(rsa_key))

    assert auth.authenticate(bearer(signed(rsa_key, "RS256"))).party_id == "alice"


def test_es256_with_public_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    auth = Authenticator(secret=None, public_key=public_pem(ec_key))

    assert auth.authenticate(bearer(signed(ec_key, "ES256", roles=["pss"]))).roles == {Role.PSS}


def test_rs256_signed_by_another_key(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = Authenticator(secret=None, public_key=public_pem(rsa_key))

    rejected(auth, bearer(signed(other, "RS256")), "invalid token")


def test_es256_token_against_rsa_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    auth = Authenticator(secret=None, public_key=public_pem(rsa_key))

    rejected(auth, bearer(signed(ec_key, "ES256")), "invalid token")


def test_asymmetric_token_without_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    rejected(HS, bearer(signed(rsa_key, "RS256")), "no key is configured for 'RS256'")


def test_es256_excluded_from_algorithms(ec_key: ec.EllipticCurvePrivateKey) -> None:
    auth = Authenticator(secret=None, public_key=public_pem(ec_key), algorithms=["RS256"])

    rejected(auth, bearer(signed(ec_key, "ES256")), "'ES256' is not accepted")


# --- issuer / audience ------------------------------------------------------------------------


def test_issuer_checked_when_configured() -> None:
    auth = Authenticator(secret=SECRET, issuer="https://idp.example")

    good = mint_token(SECRET, "a", ["customer"], issuer="https://idp.example")
    assert auth.authenticate(bearer(good)).party_id == "a"
    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"], issuer="https://evil")), "issuer")
    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"])), "iss")


def test_audience_checked_when_configured() -> None:
    auth = Authenticator(secret=SECRET, audience="pss-ordering")

    good = mint_token(SECRET, "a", ["customer"], audience="pss-ordering")
    assert auth.authenticate(bearer(good)).party_id == "a"
    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"], audience="other")), "Audience")
    rejected(auth, bearer(mint_token(SECRET, "a", ["customer"])), "aud")


def test_issuer_and_audience_ignored_when_not_configured() -> None:
    token = mint_token(SECRET, "a", ["customer"], issuer="anyone", audience="anything")

    assert HS.authenticate(bearer(token)).party_id == "a"


def test_mint_token_claims() -> None:
    token = mint_token(SECRET, "p", ["provider"], lifetime_seconds=60, issuer="i", audience="x")
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], audience="x")

    assert decoded["sub"] == "p"
    assert decoded["roles"] == ["provider"]
    assert (decoded["iss"], decoded["aud"]) == ("i", "x")
    assert decoded["exp"] - decoded["iat"] == 60
