"""Alembic environment of notification_db: the URL comes from the service settings (or the caller)."""

from alembic import context

import app.models  # noqa: F401 - registers the tables on the metadata
from app.core.config import Settings
from chat_shared.db import Base
from chat_shared.migrations import run_env

url = context.config.attributes.get("database_url") or Settings().database_url
run_env(Base.metadata, url, offline=context.is_offline_mode())
