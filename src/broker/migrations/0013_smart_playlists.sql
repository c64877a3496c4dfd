-- Smart playlists: rules instead of a list of songs. `rules` is the typed rule tree
-- (proto/smart.rs) as the broker serialised it, JSON. Its songs are chosen when the playlist
-- is read (broker/userdata/smart.rs), so playlist_tracks holds none for it. A table of its
-- own (not a column of playlists) so that running this again is harmless.
CREATE TABLE IF NOT EXISTS smart_playlists (
    playlist_id TEXT PRIMARY KEY REFERENCES playlists(id) ON DELETE CASCADE,
    rules       TEXT NOT NULL
) STRICT;
