"""The domain core: rules, values and state machines as plain functions and dataclasses.

Nothing here imports Strawberry, SQLAlchemy, httpx or any other layer of this project.
"""
