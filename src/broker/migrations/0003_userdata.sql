-- Per-user state (stars, ratings, plays, play queue, bookmarks), radio stations, and the
-- search index.

CREATE TABLE annotations (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
    item_id    TEXT NOT NULL,
    starred_at INTEGER,                      -- unix seconds, NULL: not starred
    rating     INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    play_count INTEGER NOT NULL DEFAULT 0,
    played_at  INTEGER,
    PRIMARY KEY (user_id, kind, item_id)
) STRICT;
CREATE INDEX annotations_starred ON annotations(user_id, kind, starred_at) WHERE starred_at IS NOT NULL;

CREATE TABLE play_queues (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    current    INTEGER,                      -- index into the queue
    position   INTEGER NOT NULL DEFAULT 0,   -- ms into the current track
    changed_at INTEGER NOT NULL,
    changed_by TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE play_queue_entries (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, position)
) STRICT;

CREATE TABLE bookmarks (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id   TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,             -- ms
    comment    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, track_id)
) STRICT;

CREATE TABLE radio_stations (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    stream_url   TEXT NOT NULL,
    homepage_url TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
) STRICT;

-- Word-prefix search, case- and diacritic-insensitive; rowid = the rowid of the row indexed.
CREATE VIRTUAL TABLE track_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE album_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE artist_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');

CREATE INDEX albums_name ON albums(name COLLATE NOCASE);
CREATE INDEX albums_created ON albums(created_at);
CREATE INDEX albums_artist ON albums(artist_id);
CREATE INDEX artists_name ON artists(name COLLATE NOCASE);
CREATE INDEX albums_year ON albums(year);
CREATE INDEX tracks_folder ON tracks(folder_id);
