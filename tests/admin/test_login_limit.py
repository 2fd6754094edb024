"""The sign-in limiter against the real Redis: counted before the password is checked, in one atomic step,
per email and address, per email across addresses and per address across emails."""

from __future__ import annotations

import threading

from tests.admin.conftest import PASSWORD, csrf_token, login


def test_thirty_parallel_guesses_get_no_more_password_checks_than_the_limit(app, people):
    """401 means the password was checked; 429 means the limiter refused first."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(client, token):
        with app.app_context():
            start.wait()
            response = client.post(
                "/login", data={"email": people["admin"], "password": "a wrong guess", "csrf_token": token}
            )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [401] * limit + [429] * (len(clients) - limit)
    assert login(app.test_client(), people["admin"]).status_code == 429  # the right password waits too


def test_one_address_trying_many_accounts_is_capped(app, people):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    client = app.test_client()
    for email in ("a@example.com", "b@example.com", people["viewer"]):
        assert login(client, email, "a wrong guess").status_code == 401
    assert login(client, people["manager"]).status_code == 429
    # Another address is not affected.
    assert login(app.test_client(), people["manager"], environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 302


def test_successful_sign_ins_do_not_use_up_the_address_cap(app, people):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for role in ("admin", "manager", "viewer", "admin", "manager"):
        assert login(app.test_client(), people[role]).status_code == 302
    client = app.test_client()
    for _ in range(3):
        assert login(client, "someone@example.com", "a wrong guess").status_code == 401
    assert login(client, people["viewer"]).status_code == 429


def test_one_account_guessed_from_many_addresses_is_capped(app, people):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 3
    for n in range(3):
        response = login(
            app.test_client(), people["admin"], "a wrong guess", environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"}
        )
        assert response.status_code == 401
    fresh_address = app.test_client()
    assert login(fresh_address, people["admin"], environ_base={"REMOTE_ADDR": "10.0.0.99"}).status_code == 429
    # Other accounts from those addresses still sign in.
    assert login(app.test_client(), people["viewer"], environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302


def test_right_password_clears_the_account_count(app, people):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 3
    for n in range(2):
        login(app.test_client(), people["admin"], "a wrong guess", environ_base={"REMOTE_ADDR": f"10.0.1.{n}"})
    assert login(app.test_client(), people["admin"], PASSWORD).status_code == 302
    for n in range(3):
        response = login(
            app.test_client(), people["admin"], "a wrong guess", environ_base={"REMOTE_ADDR": f"10.0.2.{n}"}
        )
        assert response.status_code == 401


def test_every_counter_expires(app, people):
    """No counter outlives its window, even one given back after its window ended."""
    from dashboard.redis_conn import get_redis

    login(app.test_client(), people["admin"], "a wrong guess")
    connection = get_redis()
    keys = connection.keys("tillsync:login-failures:*")
    assert len(keys) == 3
    for key in keys:  # as if the window ended between the attempt and the right password
        connection.delete(key)
    assert login(app.test_client(), people["admin"]).status_code == 302
    login(app.test_client(), people["viewer"], "a wrong guess")
    keys = connection.keys("tillsync:login-failures:*")
    assert keys and all(0 < connection.ttl(key) <= app.config["LOGIN_FAILURE_WINDOW_SECONDS"] for key in keys)
    assert all(int(connection.get(key)) >= 0 for key in keys)
