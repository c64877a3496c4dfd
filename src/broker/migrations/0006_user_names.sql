-- One comparison key per user name (src/broker/names.rs): Unicode compatibility caseless
-- form, trimmed. Filled for existing users by the broker at start (SQLite cannot compute it);
-- two names with one key stop the start with both named. Every lookup goes through it.
ALTER TABLE users ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX users_name_key ON users(name_key);

-- `redoubt user unlock NAME` leaves the user's name key here for the running broker, which
-- lifts the rate limit on that user's logins and removes the row.
CREATE TABLE unlocks (
    name_key      TEXT NOT NULL,
    requested_at  INTEGER NOT NULL
) STRICT;
