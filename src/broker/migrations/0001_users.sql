-- Users, their encrypted passwords, API keys, web sessions, and settings the broker keeps.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
    id           TEXT PRIMARY KEY,                 -- random, opaque, stable
    name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password     BLOB,                             -- AES-256-GCM(nonce || ciphertext), AAD = id; NULL: no password (ExtAuth-only)
    email        TEXT NOT NULL DEFAULT '',
    is_admin     INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at   INTEGER NOT NULL,                 -- unix seconds
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,              -- SHA-256 of the key; the key itself is shown once
    created_at  INTEGER NOT NULL,
    last_used   INTEGER
) STRICT;
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,                  -- SHA-256 of the cookie value
    csrf_hash   BLOB NOT NULL,                     -- SHA-256 of the CSRF token
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL                   -- slides forward on use
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
