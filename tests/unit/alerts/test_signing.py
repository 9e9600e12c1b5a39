from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.domain.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    delivery_id,
    sign,
    verify,
    webhook_headers,
)

SECRET = "k9v2-very-long-shared-secret-for-tests"
BODY = '{"version":"4","receiver":"ops","alerts":[{"annotations":{"summary":"Quận Ba Đình"}}]}'.encode()


def test_signature_is_hmac_sha256_hex_of_the_exact_body() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == f"sha256={expected}"
    assert verify(BODY, sign(BODY, SECRET), SECRET)


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=len(BODY) - 1), st.integers(min_value=1, max_value=255))
def test_any_changed_byte_fails_verification(position: int, flip: int) -> None:
    tampered = bytearray(BODY)
    tampered[position] ^= flip
    assert not verify(bytes(tampered), sign(BODY, SECRET), SECRET)


def test_wrong_secret_malformed_or_missing_header_fail_and_rotation_works() -> None:
    header = sign(BODY, SECRET)
    assert not verify(BODY, header, "another-secret-of-enough-length")
    assert not verify(BODY, None, SECRET)
    assert not verify(BODY, header.removeprefix("sha256="), SECRET)
    assert not verify(BODY, "sha256=zzzz", SECRET)
    assert verify(BODY, header.upper().replace("SHA256=", "sha256="), SECRET)
    assert verify(BODY, header, ["new-secret-after-rotation-xyz", SECRET])


def test_headers_carry_signature_and_a_stable_delivery_id() -> None:
    headers = webhook_headers(BODY, SECRET, ["b", "a"])
    assert headers[SIGNATURE_HEADER] == sign(BODY, SECRET)
    assert headers[DELIVERY_HEADER] == delivery_id(["a", "b"])
    assert delivery_id(["a", "b"]) != delivery_id(["a"])
