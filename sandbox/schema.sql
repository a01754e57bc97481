-- Schema of the sandbox's "amani" database: the tables the real service's first Alembic
-- migration creates, reduced to the columns the sandbox app and the checks read.

CREATE TABLE alembic_version (
    version_num varchar(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    hashed_password varchar(255) NOT NULL,
    full_name varchar(255),
    role varchar(32) NOT NULL DEFAULT 'client',
    is_active boolean NOT NULL DEFAULT true,
    is_verified boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    freelancer_id uuid REFERENCES users (id) ON DELETE SET NULL,
    title varchar(200) NOT NULL,
    description text,
    status varchar(32) NOT NULL DEFAULT 'draft',
    budget numeric(14, 2) NOT NULL,
    currency char(3) NOT NULL DEFAULT 'NGN',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
CREATE INDEX ix_projects_owner_id ON projects (owner_id, created_at DESC);

CREATE TABLE milestones (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title varchar(200) NOT NULL,
    amount numeric(14, 2) NOT NULL,
    status varchar(32) NOT NULL DEFAULT 'pending',
    due_date date,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_milestones_project_id ON milestones (project_id);

CREATE TABLE transactions (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    milestone_id uuid REFERENCES milestones (id) ON DELETE SET NULL,
    type varchar(32) NOT NULL,
    status varchar(32) NOT NULL,
    amount numeric(14, 2) NOT NULL,
    currency char(3) NOT NULL DEFAULT 'NGN',
    reference varchar(64) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_transactions_project_id ON transactions (project_id, created_at DESC);

CREATE TABLE kyc (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status varchar(32) NOT NULL DEFAULT 'pending',
    document_type varchar(32) NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    reviewed_at timestamptz
);

CREATE TABLE wallet_registry (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chain varchar(32) NOT NULL,
    address varchar(128) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallet_balance_snapshot (
    id bigserial PRIMARY KEY,
    wallet_id uuid NOT NULL REFERENCES wallet_registry (id) ON DELETE CASCADE,
    asset varchar(16) NOT NULL,
    balance numeric(30, 8) NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_wallet_balance_snapshot_captured_at ON wallet_balance_snapshot (captured_at);

CREATE TABLE wallet_transaction_event (
    id bigserial PRIMARY KEY,
    wallet_id uuid NOT NULL REFERENCES wallet_registry (id) ON DELETE CASCADE,
    tx_hash varchar(128) NOT NULL,
    direction varchar(8) NOT NULL,
    asset varchar(16) NOT NULL,
    amount numeric(30, 8) NOT NULL,
    block_number bigint NOT NULL,
    observed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_wallet_transaction_event_observed_at ON wallet_transaction_event (observed_at);
