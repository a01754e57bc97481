"""Seed rows for the sandbox database: users to log in with and a little business data."""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from dataclasses import dataclass

import psycopg

from sandbox.common import state
from sandbox.common.auth import hash_password

MIGRATION_VERSION = "001_initial_schema"


@dataclass(frozen=True)
class SeedPasswords:
    """Plain passwords of the seeded accounts (held in memory only)."""

    test_user: str
    traffic_user: str
    unverified_user: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def seed(conn: psycopg.Connection, passwords: SeedPasswords) -> None:
    """Insert the users, projects, transactions, KYC and wallet rows in one transaction."""
    rng = random.Random(4501)
    now = _now()
    with conn.transaction():
        conn.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", (MIGRATION_VERSION,))
        ids = _users(conn, passwords, now)
        project_ids = _projects(conn, ids, now)
        _transactions(conn, project_ids, rng, now)
        _kyc(conn, ids, now)
        _wallets(conn, ids, rng, now)


def _users(conn: psycopg.Connection, passwords: SeedPasswords, now: dt.datetime) -> dict[str, uuid.UUID]:
    """The accounts the suite and the traffic log in with, an unverified one and two freelancers; email -> id."""
    users = [
        (state.TEST_USER_EMAIL, passwords.test_user, "Synthetic Monitor", True, "client"),
        (state.TRAFFIC_USER_EMAIL, passwords.traffic_user, "Traffic Bot", True, "client"),
        # Right password, unverified account: the 403 path.
        (state.UNVERIFIED_USER_EMAIL, passwords.unverified_user, "Pending User", False, "client"),
        ("ada.freelancer@amani.test", secrets.token_urlsafe(16), "Ada Obi", True, "freelancer"),
        ("kofi.freelancer@amani.test", secrets.token_urlsafe(16), "Kofi Mensah", True, "freelancer"),
    ]
    ids: dict[str, uuid.UUID] = {}
    for offset, (email, password, name, verified, role) in enumerate(users):
        ids[email] = uuid.uuid4()
        conn.execute(
            "INSERT INTO users (id, email, hashed_password, full_name, role, is_verified,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                ids[email],
                email,
                hash_password(password),
                name,
                role,
                verified,
                now - dt.timedelta(days=60 - offset),
            ),
        )
    return ids


def _projects(conn: psycopg.Connection, ids: dict[str, uuid.UUID], now: dt.datetime) -> list[uuid.UUID]:
    """Five projects of the two clients, two milestones each; their ids."""
    freelancers = [ids["ada.freelancer@amani.test"], ids["kofi.freelancer@amani.test"]]
    projects = [
        (state.TEST_USER_EMAIL, "Mobile banking app redesign", "in_progress", "1500000"),
        (state.TEST_USER_EMAIL, "Escrow API integration", "active", "850000"),
        (state.TEST_USER_EMAIL, "Logo and brand kit", "completed", "120000"),
        (state.TRAFFIC_USER_EMAIL, "Inventory dashboard", "in_progress", "640000"),
        (state.TRAFFIC_USER_EMAIL, "Delivery tracking microsite", "draft", "300000"),
    ]
    project_ids = []
    for index, (owner, title, status, budget) in enumerate(projects):
        project_id = uuid.uuid4()
        project_ids.append(project_id)
        conn.execute(
            "INSERT INTO projects (id, owner_id, freelancer_id, title, description, status,"
            " budget, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                project_id,
                ids[owner],
                freelancers[index % 2],
                title,
                f"{title} for a sandbox client",
                status,
                budget,
                now - dt.timedelta(days=40 - 5 * index),
            ),
        )
        for step in range(2):
            conn.execute(
                "INSERT INTO milestones (id, project_id, title, amount, status, due_date)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    uuid.uuid4(),
                    project_id,
                    f"Milestone {step + 1}",
                    int(budget) // 2,
                    "approved" if step == 0 else "pending",
                    (now + dt.timedelta(days=14 * (step + 1))).date(),
                ),
            )
    return project_ids


def _transactions(
    conn: psycopg.Connection, project_ids: list[uuid.UUID], rng: random.Random, now: dt.datetime
) -> None:
    """Twenty escrow transactions of every kind, one every six hours up to now."""
    kinds = [
        ("hold", "completed"),
        ("release", "completed"),
        ("hold", "pending"),
        ("fee", "completed"),
        ("refund", "failed"),
    ]
    for index in range(20):
        kind, status = kinds[index % len(kinds)]
        conn.execute(
            "INSERT INTO transactions (id, project_id, type, status, amount, currency,"
            " reference, created_at) VALUES (%s, %s, %s, %s, %s, 'NGN', %s, %s)",
            (
                uuid.uuid4(),
                project_ids[index % len(project_ids)],
                kind,
                status,
                rng.randrange(10_000, 400_000),
                f"AMN-{100000 + index}",
                now - dt.timedelta(hours=6 * (20 - index)),
            ),
        )


def _kyc(conn: psycopg.Connection, ids: dict[str, uuid.UUID], now: dt.datetime) -> None:
    for email, kyc_status in (
        (state.TEST_USER_EMAIL, "approved"),
        (state.TRAFFIC_USER_EMAIL, "approved"),
        (state.UNVERIFIED_USER_EMAIL, "pending"),
    ):
        conn.execute(
            "INSERT INTO kyc (id, user_id, status, document_type, submitted_at)"
            " VALUES (%s, %s, %s, 'passport', %s)",
            (uuid.uuid4(), ids[email], kyc_status, now - dt.timedelta(days=30)),
        )


def _wallets(conn: psycopg.Connection, ids: dict[str, uuid.UUID], rng: random.Random, now: dt.datetime) -> None:
    """A wallet per client with recent balance snapshots and chain events (the wallet jobs' rows)."""
    for index, email in enumerate((state.TEST_USER_EMAIL, state.TRAFFIC_USER_EMAIL)):
        wallet_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO wallet_registry (id, user_id, chain, address) VALUES (%s, %s, %s, %s)",
            (wallet_id, ids[email], "ethereum", "0x" + secrets.token_hex(20)),
        )
        for minutes in (15, 10, 5, 1):
            conn.execute(
                "INSERT INTO wallet_balance_snapshot (wallet_id, asset, balance, captured_at)"
                " VALUES (%s, 'USDC', %s, %s)",
                (wallet_id, rng.randrange(100, 90_000), now - dt.timedelta(minutes=minutes)),
            )
            conn.execute(
                "INSERT INTO wallet_transaction_event (wallet_id, tx_hash, direction, asset,"
                " amount, block_number, observed_at) VALUES (%s, %s, %s, 'USDC', %s, %s, %s)",
                (
                    wallet_id,
                    "0x" + secrets.token_hex(32),
                    "in" if minutes % 2 else "out",
                    rng.randrange(1, 5_000),
                    19_000_000 + 100 * index + minutes,
                    now - dt.timedelta(minutes=minutes),
                ),
            )
