"""Alembic environment: online migrations against DATABASE_URL, one transaction each."""

import logging
import os

from alembic import context
from sqlalchemy import create_engine, pool

logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")

engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
