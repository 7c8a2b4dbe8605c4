"""ASGI entry point: ``uvicorn main:app`` / ``gunicorn main:app``."""

from app.factory import create_app

app = create_app()
