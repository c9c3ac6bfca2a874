"""The ASGI entry point uvicorn imports in each worker: services from the environment.

``cocred serve`` sets ``COCRED_DATABASE_URL`` before starting uvicorn, so every
worker process opens the same database.
"""

from __future__ import annotations

from api.bootstrap import bootstrap
from api.http.app import create_app

services = bootstrap()
app = create_app(services)
