-- Avatars (getAvatar): each user's picture as the transcoder re-encoded it from an upload,
-- bounded in size; never the uploaded bytes themselves.
CREATE TABLE IF NOT EXISTS avatars (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    image        BLOB NOT NULL,
    etag         TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- `redoubt scan --purge-missing` while a daemon runs: the command queues a row and signals
-- the supervisor; the broker takes the rows when the scan request reaches it.
CREATE TABLE IF NOT EXISTS scan_requests (
    id           INTEGER PRIMARY KEY,
    purge        INTEGER NOT NULL DEFAULT 0,
    requested_at INTEGER NOT NULL
) STRICT;
