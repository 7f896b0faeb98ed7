"""Realistic demo data for Aftersales (``manage.py seed_demo``)."""

from .seed import SeedResult, seed_demo
from .users import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "SeedResult", "ensure_demo_users", "seed_demo"]
