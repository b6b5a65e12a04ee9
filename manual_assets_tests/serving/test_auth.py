"""Who may call the API: missing, invalid and revoked keys, scopes, vendor-restricted keys,
JWTs from a configured issuer, CORS and security headers; keys made with the real CLI."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cli.main import main as manualqa
from evals.golden import load_golden_set
from manual_assets_tests.serving.conftest import Credential, make_key
from manualqa.config import PROJECT_ROOT
from manualqa.documents import slugify
from serving.app import create_app
from serving.auth import jwt_key
from sql.api_keys import revoke_key
from sql.db import make_engine, session_scope
from sql.models import ApiKey

JWT_SECRET = "a-test-only-hmac-secret-of-32-bytes!"
ISSUER, AUDIENCE = "https://idp.test", "manualqa-api"
ORIGIN = "https://app.example"
ACME = slugify("Acme Appliances")
ACME_MANUALS = {"acme__ac-200__owners-manual", "acme__ac-300__owners-manual"}
QUESTIONS = [q.question for q in load_golden_set(PROJECT_ROOT / "evals" / "golden_set.yaml")]
ENDPOINTS = {
    "/v1/search": {"query": "How do I reset the Wi-Fi?"},
    "/v1/ask": {"question": "How do I reset the Wi-Fi?"},
    "/v1/sql": {"question": "How many manuals are there?"},
    "/v1/query": {"question": "How do I reset the Wi-Fi on the AC-200?"},
}
BOTH = {"question": "Which manuals are there for the AC-200, and how do I reset the Wi-Fi?"}


@pytest.fixture(scope="module")
def settings(demo_pipeline):
    serving = demo_pipeline.settings.serving.model_copy(
        update={
            "cors_origins": [ORIGIN],
            "jwt": demo_pipeline.settings.serving.jwt.model_copy(
                update={
                    "enabled": True,
                    "issuer": ISSUER,
                    "audience": AUDIENCE,
                    "algorithms": ["HS256"],
                    "key_env": "TEST_JWT_KEY",
                }
            ),
        }
    )
    return demo_pipeline.settings.model_copy(update={"serving": serving})


@pytest.fixture(scope="module")
def api(settings):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEST_JWT_KEY", JWT_SECRET)
        with TestClient(create_app(settings)) as client:
            yield client


@pytest.fixture(scope="module")
def url(demo_pipeline) -> str:
    return demo_pipeline.settings.database_url.get_secret_value()


def _token(**claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-7", "iat": now, "exp": now + 300}
    return jwt.encode({**payload, **claims}, JWT_SECRET, algorithm="HS256")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_checks_need_no_credential(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_a_credential(api, path):
    response = api.post(path, json=ENDPOINTS[path])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "headers",
    [
        _bearer("mqa_0123456789abcdef_" + "x" * 43),  # well-formed, no such key
        _bearer("mqa_short"),
        {"X-API-Key": "not-a-key"},
        _bearer("eyJhbGciOiJIUzI1NiJ9.e30.bm90LWEtc2lnbmF0dXJl"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_invalid_credentials_are_refused(api, headers):
    response = api.post("/v1/search", json=ENDPOINTS["/v1/search"], headers=headers)
    assert response.status_code == 401, response.text


def test_a_wrong_secret_for_a_real_key_id_is_refused(api, url):
    real = make_key(url, ["search"])
    forged = f"mqa_{real.key_id}_{'A' * 43}"
    body = ENDPOINTS["/v1/search"]
    assert api.post("/v1/search", json=body, headers=_bearer(forged)).status_code == 401
    assert api.post("/v1/search", json=body, headers=real.headers).status_code == 200


def test_keys_made_with_the_cli_work_until_revoked(api, capsys, session_env):
    assert manualqa(["keys", "create", "partner portal", "--scope", "search", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    key, key_id = created["key"], created["record"]["key_id"]
    body = ENDPOINTS["/v1/search"]
    assert api.post("/v1/search", json=body, headers={"X-API-Key": key}).status_code == 200

    assert manualqa(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "partner portal" in listed and key not in listed

    assert manualqa(["keys", "revoke", key_id]) == 0
    response = api.post("/v1/search", json=body, headers=_bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert manualqa(["keys", "revoke", key_id]) == 1  # already revoked: a clear error
    assert "revoked at" in capsys.readouterr().err


def test_only_a_hash_of_the_secret_is_stored(url):
    credential = make_key(url, ["search"])
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            row = session.scalars(select(ApiKey).where(ApiKey.key_id == credential.key_id)).one()
            stored = [str(v) for v in row.__dict__.values()]
    finally:
        engine.dispose()
    secret = credential.key.split("_", 2)[2]
    assert not any(secret in value for value in stored)


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["search"], {"/v1/search"}),
        (["ask"], {"/v1/ask", "/v1/query"}),
        (["sql"], {"/v1/sql"}),
        (["webhook"], set()),
        (["admin"], set(ENDPOINTS)),
    ],
)
def test_scopes_decide_which_endpoints_a_key_may_call(api, url, scopes, allowed):
    credential = make_key(url, scopes)
    for path, body in ENDPOINTS.items():
        response = api.post(path, json=body, headers=credential.headers)
        expected = 200 if path in allowed else 403
        assert response.status_code == expected, (path, response.text)
        if expected == 403:
            assert response.json()["error"] == "forbidden"


def test_query_without_the_sql_scope_answers_no_catalog_part(api, url):
    credential = make_key(url, ["ask"])
    body = api.post("/v1/query", json=BOTH, headers=credential.headers).json()
    assert body["intent"] == "both" and body["citations"]
    assert body["catalog"] is None and "'sql' scope" in body["catalog_refused"]


@pytest.fixture(scope="module")
def acme_only(url) -> Credential:
    return make_key(url, ["search", "ask", "sql"], vendors=[ACME])


def test_a_vendor_restricted_key_never_sees_another_vendors_passages(api, acme_only):
    seen: set[str] = set()
    for question in QUESTIONS:
        results = api.post(
            "/v1/search", json={"query": question, "top_k": 8}, headers=acme_only.headers
        ).json()["results"]
        seen |= {r["manual_id"] for r in results}
    assert seen and seen <= ACME_MANUALS
    other_vendor = api.post(
        "/v1/search",
        json={"query": "mowing height", "vendor": "Verdant Garden Tech"},
        headers=acme_only.headers,
    ).json()["results"]
    assert other_vendor == []


def test_a_vendor_restricted_key_gets_answers_only_from_its_vendor(api, acme_only):
    cited: set[str] = set()
    for question in QUESTIONS[:20]:
        body = api.post("/v1/ask", json={"question": question}, headers=acme_only.headers).json()
        cited |= {c["manual_id"] for c in body["citations"]}
    assert cited and cited <= ACME_MANUALS


def test_a_vendor_restricted_key_may_not_read_the_whole_catalog(api, acme_only):
    sql = api.post("/v1/sql", json=ENDPOINTS["/v1/sql"], headers=acme_only.headers)
    assert sql.status_code == 403 and "restricted" in sql.json()["detail"]
    query = api.post("/v1/query", json=BOTH, headers=acme_only.headers).json()
    assert query["catalog"] is None and "restricted" in query["catalog_refused"]


def test_a_product_restricted_key_sees_that_product_only(api, url):
    credential = make_key(url, ["search"], products=[slugify("PureAir AC-300 Air Purifier")])
    results = api.post(
        "/v1/search", json={"query": "replace the filter", "top_k": 8}, headers=credential.headers
    ).json()["results"]
    assert results and {r["manual_id"] for r in results} == {"acme__ac-300__owners-manual"}


def test_a_key_for_an_unknown_vendor_is_not_created(capsys, session_env):
    assert manualqa(["keys", "create", "x", "--scope", "search", "--vendor", "nobody"]) == 1
    assert "no vendor with slug nobody" in capsys.readouterr().err


def test_a_revoked_key_is_refused_at_once(api, url):
    credential = make_key(url, ["search"])
    body = ENDPOINTS["/v1/search"]
    assert api.post("/v1/search", json=body, headers=credential.headers).status_code == 200
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            revoke_key(session, credential.key_id, "pytest")
    finally:
        engine.dispose()
    assert api.post("/v1/search", json=body, headers=credential.headers).status_code == 401


def test_jwts_from_the_configured_issuer_carry_scopes_and_restrictions(api):
    body = ENDPOINTS["/v1/search"]
    ok = api.post("/v1/search", json=body, headers=_bearer(_token(scope="search ask")))
    assert ok.status_code == 200
    search_only = _bearer(_token(scope="search"))
    no_scope = api.post("/v1/sql", json=ENDPOINTS["/v1/sql"], headers=search_only)
    assert no_scope.status_code == 403
    restricted = _bearer(_token(scope="search", vendors=[ACME]))
    results = api.post("/v1/search", json={"query": "reset", "top_k": 8}, headers=restricted)
    assert {r["manual_id"] for r in results.json()["results"]} <= ACME_MANUALS


@pytest.mark.parametrize(
    "token",
    [
        _token(scope="search", exp=int(time.time()) - 3600),
        _token(scope="search", aud="someone-else"),
        _token(scope="search", iss="https://evil.test"),
        jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "scope": "search"}, JWT_SECRET),
        jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "scope": "search", "exp": 2**33},
            "another-secret-that-is-32-bytes-long",
            algorithm="HS256",
        ),
        jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "scope": "search", "exp": 2**33},
            None,
            algorithm="none",
        ),
    ],
    ids=["expired", "audience", "issuer", "no-exp", "wrong-key", "alg-none"],
)
def test_bad_jwts_are_refused(api, token):
    response = api.post("/v1/search", json=ENDPOINTS["/v1/search"], headers=_bearer(token))
    assert response.status_code == 401, response.text


def test_cors_admits_the_configured_origin_only(api):
    def preflight(origin: str):
        return api.options(
            "/v1/search",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = preflight("https://evil.example")
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("path", ["/healthz", "/v1/search"])
def test_responses_carry_security_headers(api, path):
    response = api.get(path) if path == "/healthz" else api.post(path, json={})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_production_serves_neither_the_schema_nor_the_docs(settings):
    production = settings.model_copy(update={"environment": "production"})
    client = TestClient(create_app(production))  # not entered: routing only, no lifespan
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404


def test_the_jwt_key_comes_from_the_environment_or_a_file(tmp_path, monkeypatch, settings):
    jwt_settings = settings.serving.jwt.model_copy(update={"key_env": "OTHER_JWT_KEY"})
    monkeypatch.delenv("OTHER_JWT_KEY", raising=False)
    with pytest.raises(ValueError, match="OTHER_JWT_KEY"):
        jwt_key(jwt_settings)  # enabled without a key: the API refuses to start
    key_file = tmp_path / "jwt.pem"
    key_file.write_text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n")
    monkeypatch.setenv("OTHER_JWT_KEY_FILE", str(key_file))
    assert jwt_key(jwt_settings).startswith("-----BEGIN PUBLIC KEY-----")
    assert jwt_key(jwt_settings.model_copy(update={"enabled": False})) is None
