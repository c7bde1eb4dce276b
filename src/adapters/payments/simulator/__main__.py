"""``python -m adapters.payments.simulator --port 8002 --webhook-url http://127.0.0.1:8000/webhooks/payments``."""

from adapters.payments.simulator.app import main

main()
