"""The ASGI entry point uvicorn imports in each worker: services from the environment.

``cocred serve`` sets ``COCRED_DATABASE_URL`` before starting uvicorn, so every
worker process opens the same database.
"""

from __future__ import annotations

from api.app import create_app
from api.bootstrap import bootstrap

services = bootstrap()
app = create_app(services)
