"""The operators' commands: products, devices, users, demo."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from dashboard.domain.devices import hash_token
from dashboard.extensions import db
from dashboard.models import AuditEntry, Device, Product, StockMovement, User
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_products_import_creates_then_updates_by_sku(app, tmp_path):
    csv_file = tmp_path / "catalogue.csv"
    csv_file.write_text("sku,name,price,stock_quantity\nCOFFEE,Coffee,2.50,10\nTEA,Tea,2.00,5\n")
    result = run(app, "products", "import", str(csv_file))
    assert result.exit_code == 0, result.output
    assert "2 products created" in result.output
    csv_file.write_text("sku,name,price,stock_quantity\nCOFFEE,Coffee (large),2.80,12\n")
    result = run(app, "products", "import", str(csv_file))
    assert result.exit_code == 0 and "0 products created, 1 updated" in result.output
    coffee = db.session.scalar(select(Product).where(Product.sku == "COFFEE"))
    assert (coffee.name, coffee.price, coffee.stock_quantity) == ("Coffee (large)", Decimal("2.80"), Decimal(12))
    # The change of stock is booked, so stock still equals opening stock plus movements.
    assert db.session.scalar(select(func.sum(StockMovement.quantity_delta))) == Decimal(2)
    check_invariants(db.engine)


def test_products_import_refuses_a_bad_file_whole(app, tmp_path):
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("sku,name,price,stock_quantity\nCOFFEE,Coffee,2.50,10\nTEA,Tea,two,5\n")
    result = run(app, "products", "import", str(csv_file))
    assert result.exit_code != 0
    assert "line 3" in result.output and "Nothing was imported" in result.output
    assert db.session.scalar(select(func.count(Product.id))) == 0
    csv_file.write_text("code,name,price\nX,Y,1\n")
    result = run(app, "products", "import", str(csv_file))
    assert result.exit_code != 0 and "header" in result.output


def test_devices_add_prints_token_alone_on_last_line_and_stores_only_its_hash(app, client):
    result = run(app, "devices", "add", "T07")
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    device = db.session.scalar(select(Device).where(Device.name == "T07"))
    assert device.token_hash == hash_token(token) and token not in device.token_hash
    assert client.get("/api/v1/products", headers=bearer(token)).status_code == 200
    assert run(app, "devices", "add", "T07").exit_code != 0


def test_devices_revoke_rotate_and_list(app, client, catalog):
    token = run(app, "devices", "add", "T08").output.strip().splitlines()[-1]
    assert run(app, "devices", "revoke", "T08").exit_code == 0
    response = client.post("/api/v1/sync", json={"orders": [make_sale()]}, headers=bearer(token))
    assert response.status_code == 403 and response.get_json()["error"] == "device_revoked"
    listing = run(app, "devices", "list").output
    assert "T08\trevoked" in listing
    new_token = run(app, "devices", "rotate", "T08").output.strip().splitlines()[-1]
    assert client.get("/api/v1/products", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/products", headers=bearer(new_token)).status_code == 200
    assert run(app, "devices", "revoke", "NOPE").exit_code != 0


def test_users_create_reads_password_from_stdin_and_hashes_it(app):
    result = run(
        app,
        "users",
        "create",
        "Manager@Shop.example",
        "--role",
        "manager",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "manager@shop.example"))
    assert user.role == "manager" and check_password_hash(user.password_hash, "correct horse battery")
    created = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert (created.actor, created.target_id) == ("cli", user.id)
    assert "correct horse" not in user.password_hash
    again = run(
        app,
        "users",
        "create",
        "manager@shop.example",
        "--role",
        "viewer",
        "--password-stdin",
        input="another long password\n",
    )
    assert again.exit_code != 0 and "exists" in again.output
    short = run(app, "users", "create", "v@shop.example", "--role", "viewer", "--password-stdin", input="short\n")
    assert short.exit_code != 0
    assert (
        run(
            app,
            "users",
            "create",
            "x@shop.example",
            "--role",
            "owner",
            "--password-stdin",
            input="long enough password\n",
        ).exit_code
        != 0
    )


def test_users_create_prompts_for_the_password(app):
    result = run(
        app, "users", "create", "admin@shop.example", "--role", "admin", input="a long password 1\na long password 1\n"
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.role).where(User.email == "admin@shop.example")) == "admin"


def test_demo_catalog_loads_the_bakery_items_once(app):
    result = run(app, "demo", "catalog")
    assert result.exit_code == 0, result.output
    products = {p.sku: p for p in db.session.scalars(select(Product))}
    assert len(products) > 80
    assert products["COFFEE"].price == Decimal("2.50") and products["HOT-CHOCOLATE"].name == "Hot chocolate"
    assert all(p.stock_quantity > 0 and p.price > 0 for p in products.values())
    products["COFFEE"].stock_quantity = Decimal(7)
    products["COFFEE"].opening_stock = Decimal(7)
    db.session.commit()
    assert run(app, "demo", "catalog").exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(Product.stock_quantity).where(Product.sku == "COFFEE")) == Decimal(7)
    assert db.session.scalar(select(func.count(Product.id))) == len(products)


def test_users_create_applies_the_password_rule(app):
    for weak, reason in [
        ("aaaaaaaaaaaa", "one character repeated"),
        ("v@shop.example", "email address"),
        ("qwertyuiop", "most common"),
    ]:
        result = run(
            app, "users", "create", "v@shop.example", "--role", "viewer", "--password-stdin", input=weak + "\n"
        )
        assert result.exit_code != 0 and reason in result.output, (weak, result.output)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_device_commands_are_audited_as_the_dashboards_are(app):
    token = run(app, "devices", "add", "T11").output.strip().splitlines()[-1]
    run(app, "devices", "revoke", "T11")
    run(app, "devices", "revoke", "T11")  # already revoked: nothing changes, nothing recorded
    run(app, "devices", "rotate", "T11")
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T11"))
    entries = db.session.execute(
        select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_id).order_by(AuditEntry.id)
    ).all()
    assert [tuple(entry) for entry in entries] == [
        ("cli", "device.add", device_id),
        ("cli", "device.revoke", device_id),
        ("cli", "device.rotate", device_id),
    ]
    assert all(token not in (details or "") for details in db.session.scalars(select(AuditEntry.details)))
