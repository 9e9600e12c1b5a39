"""HTTP caching of the read API (scoring/entrypoints/http_cache.py) and the rankings' paging (read_bodies.py)."""

from __future__ import annotations

import gzip

import brotli
import pytest
from starlette.requests import Request

from services.scoring.entrypoints.http_cache import CURRENT, CachedBody, choose_coding, not_modified, respond
from services.scoring.entrypoints.read_bodies import InvalidCursor, ReadBodies, decode_cursor, encode_cursor, fold
from tests.unit.scoring.read_fakes import city_registry

pytestmark = pytest.mark.unit

BIG = b'{"items": [' + b",".join(b'{"unit_id": "X%d", "score": 91.5}' % i for i in range(200)) + b"]}"


def request(**headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""})


def test_the_etag_is_a_hash_of_the_bytes_so_equal_bodies_share_it_and_any_change_changes_it() -> None:
    assert CachedBody(BIG).etag() == CachedBody(bytes(BIG)).etag()
    assert CachedBody(BIG).etag() != CachedBody(BIG.replace(b"91.5", b"91.6", 1)).etag()
    assert CachedBody(BIG).etag("gzip") != CachedBody(BIG).etag("br") != CachedBody(BIG).etag()


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("", None), ("gzip, deflate", "gzip"), ("gzip, deflate, br", "br"), ("br;q=0, gzip", "gzip"),
     ("identity", None), ("*", "br"), ("br;q=0,gzip;q=0", None), ("gzip;q=bogus", None)],
)  # fmt: skip
def test_the_best_accepted_coding_is_chosen(accept: str, coding: str | None) -> None:
    assert choose_coding(accept) == coding


def test_if_none_match_names_any_encoding_of_the_same_body_and_nothing_else() -> None:
    body = CachedBody(BIG)
    for tag in (body.etag(), body.etag("gzip"), f"W/{body.etag('br')}", f'"other", {body.etag()}', "*"):
        assert not_modified(tag, body.digest), tag
    for tag in (None, "", '"other"', CachedBody(BIG + b" ").etag(), body.digest[:-1]):
        assert not not_modified(tag, body.digest), tag


def test_a_200_is_compressed_as_accepted_and_a_304_has_no_body_but_the_validators() -> None:
    body = CachedBody(BIG)
    plain = respond(request(), body, CURRENT)
    assert plain.status_code == 200 and plain.body == BIG and "content-encoding" not in plain.headers
    assert plain.headers["etag"] == body.etag() and plain.headers["cache-control"] == CURRENT
    gz = respond(request(accept_encoding="gzip"), body, CURRENT)
    assert gz.headers["content-encoding"] == "gzip" and gzip.decompress(gz.body) == BIG
    br = respond(request(accept_encoding="br, gzip"), body, CURRENT)
    assert br.headers["content-encoding"] == "br" and brotli.decompress(br.body) == BIG
    assert br.headers["vary"] == "Accept-Encoding" and br.headers["etag"] == body.etag("br")
    again = respond(request(accept_encoding="br", if_none_match=br.headers["etag"]), body, CURRENT)
    assert again.status_code == 304 and again.body == b"" and again.headers["etag"] == body.etag("br")
    changed = CachedBody(BIG.replace(b"X1", b"X!"))
    assert respond(request(if_none_match=br.headers["etag"]), changed, CURRENT).status_code == 200


def test_gzip_bytes_are_the_same_in_every_process() -> None:
    assert CachedBody(BIG).encoded("gzip") == CachedBody(BIG).encoded("gzip")


def test_small_bodies_are_sent_as_they_are() -> None:
    assert "content-encoding" not in respond(request(accept_encoding="br"), CachedBody(b"{}"), CURRENT).headers


async def test_a_body_lives_while_its_sources_are_the_same_objects_and_same_bytes_keep_it() -> None:
    bodies = ReadBodies()
    registry, equal = city_registry(), city_registry()
    built = await bodies.units(registry)
    assert await bodies.units(registry) is built
    assert await bodies.units(equal) is built  # a new registry: the previous body is served while it is rebuilt
    await bodies.idle()
    assert await bodies.units(equal) is built  # rebuilt with the same bytes: kept, encodings and all


def test_names_fold_without_case_or_diacritics() -> None:
    assert fold("Phường Đống Đa") == "phuong dong da"
    assert fold("HUYỆN SÓC SƠN") == "huyen soc son"
    assert "dong da" in fold("Quận Đống Đa") and fold("đống đa") in fold("Quận Đống Đa")


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    assert decode_cursor(encode_cursor(37)) == 37
    for bad in ("", "!!", "cng", "cjE!", encode_cursor(3)[:-1] + "#", "eA"):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)
