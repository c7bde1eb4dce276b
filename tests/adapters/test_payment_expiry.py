"""The payment simulator expires checkouts nobody approved, as Vipps MobilePay's ePayment does after 10 minutes
(issue 11, defect 13: abandoned checkouts stayed CREATED forever). Driven by the simulator's clock, never by
waiting: moving it a day puts every open checkout far past its expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from adapters.payments.client import PaymentsClient, ProviderPayment
from adapters.payments.simulator import create_simulator_app
from adapters.simserver import ThreadedServer

RETURN_URL = "https://app.example/done"


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(create_simulator_app(webhook_url=None)) as running:
        yield running


@pytest.fixture
async def admin(server: ThreadedServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        (await http.post("/admin/reset")).raise_for_status()
        yield http


@pytest.fixture
async def client(server: ThreadedServer) -> AsyncIterator[PaymentsClient]:
    async with PaymentsClient(server.url, timeout=5) as c:
        yield c


async def checkout(client: PaymentsClient, key: str) -> ProviderPayment:
    return await client.create_payment(
        idempotency_key=key,
        reference=f"ref-{key}",
        amount_oere=12_345,
        method="MOBILEPAY",
        return_url=RETURN_URL,
        description="Ejendomsskat",
    )


async def advance(admin: httpx.AsyncClient, days: int) -> None:
    (await admin.post("/admin/clock/advance", json={"days": days})).raise_for_status()


async def events(admin: httpx.AsyncClient, object_id: str) -> list[str]:
    log: list[dict[str, Any]] = (await admin.get("/admin/webhooks")).json()
    return [d["type"] for d in log if d["objectId"] == object_id]


async def test_a_checkout_left_open_expires_and_can_no_longer_be_paid(
    admin: httpx.AsyncClient, client: PaymentsClient
) -> None:
    config = (await admin.post("/admin/config", json={})).json()
    assert config["paymentExpirySeconds"] == 600  # Vipps MobilePay ePayment: 10 minutes
    abandoned = await checkout(client, "abandoned")
    approved = await checkout(client, "approved")
    (await admin.post(f"/admin/payments/{approved.id}/approve")).raise_for_status()
    assert (await client.get_payment(abandoned.id)).state == "CREATED"  # young: still open

    await advance(admin, 1)
    # Moving the clock expired it at once (and said so by webhook), before anybody looked at it again.
    assert await events(admin, abandoned.id) == ["payment.expired"]
    expired = await client.get_payment(abandoned.id)
    assert (expired.state, expired.version) == ("EXPIRED", 2)
    assert (await client.get_payment(approved.id)).state == "AUTHORIZED"  # only unapproved checkouts expire
    page = await admin.get(f"/checkout/{abandoned.id}")
    assert 'id="state">EXPIRED' in page.text and "<form" not in page.text
    assert (await admin.post(f"/checkout/{abandoned.id}/approve")).status_code == 409
    assert (await admin.post(f"/admin/payments/{abandoned.id}/approve")).status_code == 409
    # Creating it again with the same key replays it as it is now.
    assert (await checkout(client, "abandoned")).state == "EXPIRED"
    # A checkout started after the clock moved is on the simulator's time: it is not expired at once.
    assert (await checkout(client, "later")).state == "CREATED"


async def test_expiry_is_configurable_and_zero_never_expires(admin: httpx.AsyncClient, client: PaymentsClient) -> None:
    (await admin.post("/admin/config", json={"paymentExpirySeconds": 0})).raise_for_status()
    kept = await checkout(client, "kept")
    await advance(admin, 30)
    assert (await client.get_payment(kept.id)).state == "CREATED"
    # Switching expiry on again: the next look at it applies it.
    (await admin.post("/admin/config", json={"paymentExpirySeconds": 3600})).raise_for_status()
    assert (await client.get_payment(kept.id)).state == "EXPIRED"
    assert await events(admin, kept.id) == ["payment.expired"]
    for bad in (-1, 30 * 24 * 3600 + 1, 1.5, "600"):
        answer = await admin.post("/admin/config", json={"paymentExpirySeconds": bad})
        assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_FAILED"), bad
    # A reset goes back to the default.
    (await admin.post("/admin/reset")).raise_for_status()
    assert (await admin.post("/admin/config", json={})).json()["paymentExpirySeconds"] == 600
