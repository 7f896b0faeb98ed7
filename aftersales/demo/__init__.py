"""Realistic demo data for Aftersales (``manage.py seed_demo``)."""

from aftersales.demo.seed import SeedResult, seed_demo
from aftersales.demo.users import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "SeedResult", "ensure_demo_users", "seed_demo"]
