-- The albums and artists whose figures (song counts, durations, years, genres, album counts)
-- a scan batch may have changed: written by the batch that changed one of their tracks,
-- recomputed and emptied at the end of the scan (ingest::finish_scan). A rescan after 1% of a
-- million tracks changed recomputes those, not every album's figures over every track.
CREATE TABLE IF NOT EXISTS stale_albums (id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stale_artists (id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
