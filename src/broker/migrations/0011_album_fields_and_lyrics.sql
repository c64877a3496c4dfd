-- Album fields clients show (OpenSubsonic AlbumID3: releaseTypes, recordLabels, moods,
-- releaseDate, originalReleaseDate, explicitStatus), read per track and aggregated into the
-- album at the end of each scan; and every sidecar lyrics file of a track, by suffix, so that
-- LyricsPriority orders the sources when lyrics are asked for (a changed priority needs no
-- rescan). Lists are U+001F-separated, like genre_list.
ALTER TABLE tracks ADD COLUMN release_types   TEXT NOT NULL DEFAULT '';
ALTER TABLE tracks ADD COLUMN record_labels   TEXT NOT NULL DEFAULT '';
ALTER TABLE tracks ADD COLUMN moods           TEXT NOT NULL DEFAULT '';
ALTER TABLE tracks ADD COLUMN explicit_status TEXT NOT NULL DEFAULT '';  -- 'explicit', 'clean' or ''
-- Which version of the scanner's tag reading stored the row (ingest::TAGS_VERSION). Rows
-- older than the current one are re-read by the next scan, changed or not: 0 are the rows
-- stored before these fields were read.
ALTER TABLE tracks ADD COLUMN tags_version    INTEGER NOT NULL DEFAULT 0;

ALTER TABLE albums ADD COLUMN release_types   TEXT NOT NULL DEFAULT '';
ALTER TABLE albums ADD COLUMN record_labels   TEXT NOT NULL DEFAULT '';
ALTER TABLE albums ADD COLUMN moods           TEXT NOT NULL DEFAULT '';
ALTER TABLE albums ADD COLUMN release_date    TEXT;
ALTER TABLE albums ADD COLUMN original_date   TEXT;
ALTER TABLE albums ADD COLUMN explicit_status TEXT NOT NULL DEFAULT '';

-- Sidecar lyrics: source is the file's suffix ('lrc', 'ttml', 'srt', 'txt').
CREATE TABLE track_lyrics (
    track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    source   TEXT NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (track_id, source)
) STRICT;

-- The one sidecar stored so far (an .lrc, else a .txt): kept until the re-read replaces it.
INSERT INTO track_lyrics (track_id, source, text)
SELECT id, CASE WHEN sidecar_lyrics GLOB '*[[]*:*]*' THEN 'lrc' ELSE 'txt' END, sidecar_lyrics
FROM tracks WHERE coalesce(sidecar_lyrics, '') != '';
ALTER TABLE tracks DROP COLUMN sidecar_lyrics;
