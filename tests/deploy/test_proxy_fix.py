"""TRUSTED_PROXY_HOPS: the client's address behind exactly one proxy, and no spoofing without one (issue 8)."""

from __future__ import annotations

from flask import request

from dashboard import create_app


def _app(monkeypatch, tmp_path, hops: str | None):
    if hops is None:
        monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    else:
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", hops)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}", "SECRET_KEY": "test", "TESTING": True},
        instance_path=str(tmp_path / "instance"),
    )

    @app.get("/_test/client")
    def client_seen():  # only in this test's app: what the limiters would see
        return {"address": request.remote_addr, "scheme": request.scheme}

    return app.test_client()


def seen(client, **headers):
    return client.get("/_test/client", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.5"}).get_json()


def test_without_a_proxy_forwarded_headers_are_ignored(monkeypatch, tmp_path):
    client = _app(monkeypatch, tmp_path, None)
    assert seen(client, **{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}) == {
        "address": "10.0.0.5",
        "scheme": "http",
    }


def test_behind_one_proxy_its_address_is_the_client_and_nothing_further(monkeypatch, tmp_path):
    client = _app(monkeypatch, tmp_path, "1")
    assert seen(client, **{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}) == {
        "address": "203.0.113.7",
        "scheme": "https",
    }
    # A client that writes its own header in front of the proxy's value gains nothing.
    assert seen(client, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})["address"] == "203.0.113.7"
