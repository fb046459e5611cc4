"""Alembic environment of the shop database (run through `bot.migrate`, no alembic.ini)."""

from bot.migrate import SHOP, run_env

run_env(SHOP)
