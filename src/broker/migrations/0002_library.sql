-- The music library, as the scanner reports it. Paths are stored as raw bytes, relative to
-- their music folder (file names need not be UTF-8). Ids of tracks, albums and artists are
-- random and stable: rescans update rows in place, and a moved file keeps its id where its
-- MusicBrainz ids (or size, mtime and title) recognise it.

CREATE TABLE music_folders (
    id     INTEGER PRIMARY KEY,
    path   TEXT NOT NULL UNIQUE,
    name   TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1      -- still in MusicFolder
) STRICT;

CREATE TABLE folders (
    id              INTEGER PRIMARY KEY,
    music_folder_id INTEGER NOT NULL REFERENCES music_folders(id),
    path            BLOB NOT NULL,
    parent_id       INTEGER REFERENCES folders(id),
    fingerprint     BLOB,
    last_scan       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (music_folder_id, path)
) STRICT;

CREATE TABLE folder_images (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    name      BLOB NOT NULL,
    PRIMARY KEY (folder_id, name)
) STRICT;

CREATE TABLE artists (
    id        TEXT PRIMARY KEY,
    key       TEXT NOT NULL UNIQUE,            -- lower-cased name, or mbz:<id>
    name      TEXT NOT NULL,
    sort_name TEXT,
    mbz_id    TEXT,
    -- refreshed at the end of each scan
    album_count INTEGER NOT NULL DEFAULT 0,  -- albums it is the album artist of
    live        INTEGER NOT NULL DEFAULT 0   -- has a track present
) STRICT;

CREATE TABLE albums (
    id                   TEXT PRIMARY KEY,
    key                  TEXT NOT NULL UNIQUE, -- album artist + name, or mbz:<release id>
    name                 TEXT NOT NULL,
    artist_id            TEXT REFERENCES artists(id),
    artist_name          TEXT NOT NULL DEFAULT '',
    sort_name            TEXT,
    compilation          INTEGER NOT NULL DEFAULT 0,
    mbz_id               TEXT,
    mbz_release_group_id TEXT,
    -- aggregates, refreshed at the end of each scan
    year                 INTEGER,
    genre_list           TEXT NOT NULL DEFAULT '',  -- genres of its tracks, U+001F-separated
    folder_id            INTEGER,                   -- a folder holding its tracks
    song_count           INTEGER NOT NULL DEFAULT 0,
    duration_ms          INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE tracks (
    id                   TEXT PRIMARY KEY,
    folder_id            INTEGER NOT NULL REFERENCES folders(id),
    file_name            BLOB NOT NULL,
    size                 INTEGER NOT NULL,
    mtime                INTEGER NOT NULL,
    suffix               TEXT NOT NULL,
    codec                TEXT NOT NULL,
    duration_ms          INTEGER NOT NULL,
    bitrate              INTEGER NOT NULL,
    sample_rate          INTEGER NOT NULL,
    bit_depth            INTEGER NOT NULL,
    channels             INTEGER NOT NULL,
    title                TEXT NOT NULL,
    album_id             TEXT REFERENCES albums(id),
    artist               TEXT NOT NULL,         -- display artist, as tagged
    album_artist         TEXT NOT NULL,
    track                INTEGER,
    track_total          INTEGER,
    disc                 INTEGER,
    disc_total           INTEGER,
    disc_subtitle        TEXT,
    year                 INTEGER,
    date                 TEXT,
    original_date        TEXT,
    release_date         TEXT,
    compilation          INTEGER NOT NULL DEFAULT 0,
    comment              TEXT,
    lyrics               TEXT,
    sidecar_lyrics       TEXT,
    bpm                  INTEGER,
    sort_title           TEXT,
    sort_artist          TEXT,
    sort_album           TEXT,
    sort_album_artist    TEXT,
    mbz_recording_id     TEXT,
    mbz_track_id         TEXT,
    mbz_album_id         TEXT,
    mbz_artist_id        TEXT,
    mbz_album_artist_id  TEXT,
    mbz_release_group_id TEXT,
    rg_track_gain        REAL,
    rg_track_peak        REAL,
    rg_album_gain        REAL,
    rg_album_peak        REAL,
    pictures             TEXT NOT NULL DEFAULT '', -- "type:mime" per embedded picture, newline-separated
    -- denormalised for reads: U+001F between items, U+001E between id and name
    genre_list           TEXT NOT NULL DEFAULT '',
    artist_list          TEXT NOT NULL DEFAULT '',
    album_artist_list    TEXT NOT NULL DEFAULT '',
    missing              INTEGER NOT NULL DEFAULT 0,
    created_scan         INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (folder_id, file_name)
) STRICT;
CREATE INDEX tracks_album ON tracks(album_id);
CREATE INDEX tracks_mbz_recording ON tracks(mbz_recording_id) WHERE mbz_recording_id IS NOT NULL;
CREATE INDEX tracks_missing ON tracks(missing) WHERE missing = 1;

CREATE TABLE track_artists (
    track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('artist', 'albumartist')),
    position  INTEGER NOT NULL,
    artist_id TEXT NOT NULL REFERENCES artists(id),
    PRIMARY KEY (track_id, role, position)
) STRICT;
CREATE INDEX track_artists_artist ON track_artists(artist_id);

CREATE TABLE genres (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
) STRICT;

CREATE TABLE track_genres (
    track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genres(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (track_id, genre_id)
) STRICT;
CREATE INDEX track_genres_genre ON track_genres(genre_id);

CREATE TABLE playlists (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    owner_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    comment     TEXT NOT NULL DEFAULT '',
    public      INTEGER NOT NULL DEFAULT 0,
    source_root INTEGER,                       -- imported from a .m3u in the library
    source_path BLOB,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (source_root, source_path)
) STRICT;

CREATE TABLE playlist_entries (                -- an imported playlist's lines, resolved at scan end
    playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    root        INTEGER NOT NULL,
    path        BLOB NOT NULL,
    PRIMARY KEY (playlist_id, position)
) STRICT;

CREATE TABLE playlist_tracks (
    playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track_id    TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (playlist_id, position)
) STRICT;

CREATE TABLE scan_problems (
    music_folder_id INTEGER NOT NULL,
    path            BLOB NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,  -- crashes or hangs of the scanner on this file
    reason          TEXT NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (music_folder_id, path)
) STRICT;
