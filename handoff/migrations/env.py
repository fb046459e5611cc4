"""Alembic environment of the hub database (run through `bot.migrate`, no alembic.ini)."""

from bot.migrate import HUB, run_env

run_env(HUB)
