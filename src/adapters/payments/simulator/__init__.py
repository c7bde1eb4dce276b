"""Payment provider simulator: one-off payments (card/MobilePay), MobilePay subscriptions, Betalingsservice.

A Starlette app for tests and local development; what it implements (provider API, browser pages, webhooks,
admin and fault-injection API) is described in README.md next to this file. Modules: ``state`` (objects,
transitions, webhook delivery), ``web`` (request helpers), ``api`` (``/v1``), ``pages`` (checkout and
confirmation pages), ``admin`` (``/admin``), ``app`` (assembly and command line).
Nothing here is secure; never expose it beyond loopback.
"""

from adapters.payments.simulator.app import DEFAULT_WEBHOOK_SECRET, create_simulator_app, main
from adapters.payments.simulator.state import SimulatorState

__all__ = ["DEFAULT_WEBHOOK_SECRET", "SimulatorState", "create_simulator_app", "main"]
