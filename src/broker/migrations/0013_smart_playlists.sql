-- Smart playlists: rules instead of a list of songs. `smart_rules` is the typed rule tree
-- (proto/smart.rs) as the broker serialised it, JSON; NULL for an ordinary playlist. Its songs
-- are chosen when it is read (broker/userdata/smart.rs), so playlist_tracks holds none.
ALTER TABLE playlists ADD COLUMN smart_rules TEXT;
