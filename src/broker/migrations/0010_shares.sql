-- Public shares (createShare): a share is a fixed list of songs, resolved when it is made
-- (an album or playlist shared is its songs then), so that its page and its tokens can never
-- reach anything else. Deleting the share or its owner removes it, and its tokens die with
-- it: the broker looks the share up on every use of one.
CREATE TABLE IF NOT EXISTS shares (
    id             TEXT PRIMARY KEY,            -- random, 128 bits: part of the public URL
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description    TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,                     -- seconds since the epoch; NULL: never
    last_visited   INTEGER,
    visit_count    INTEGER NOT NULL DEFAULT 0,
    downloadable   INTEGER NOT NULL DEFAULT 0,
    password_hash  TEXT,                        -- argon2id PHC string; NULL: none
    max_plays      INTEGER,                     -- NULL: no cap
    plays          INTEGER NOT NULL DEFAULT 0,
    transcode      INTEGER NOT NULL DEFAULT 0    -- streams follow the owner's "share" player
) STRICT;
CREATE INDEX IF NOT EXISTS shares_user ON shares(user_id);

CREATE TABLE IF NOT EXISTS share_tracks (
    share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (share_id, position)
) STRICT;
CREATE INDEX IF NOT EXISTS share_tracks_track ON share_tracks(share_id, track_id);
