-- `redoubt backup create` while a daemon runs: the command queues a row, the broker makes the
-- backup (SQLite's online backup API, holding the writer) and fills in the outcome.
CREATE TABLE IF NOT EXISTS backup_requests (
    id INTEGER PRIMARY KEY,
    requested_at INTEGER NOT NULL,
    done_at INTEGER,
    path TEXT,
    error TEXT
);
