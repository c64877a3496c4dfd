-- Every song has an album. Songs without an album tag belong to an "[Unknown Album]" of their
-- (first) album artist in their folder (Navidrome's grouping), so that getArtists ->
-- getArtist -> getAlbum reaches every song. Songs stored from now on get theirs when stored
-- (ingest::album_id, with the same key: "unknown", the artist's id and the folder's, U+001F
-- between); this gives the songs stored before one, once. Ids are random like every album's
-- and stay: the key finds the same album on every rescan.
-- From this version on, artists.album_count (refreshed at the end of each scan) counts every
-- album an artist has a song on, as album artist or track artist: getArtist lists those.
CREATE TEMP TABLE untagged AS
SELECT t.id AS track_id,
       'unknown' || char(31) || ta.artist_id || char(31) || t.folder_id AS k,
       ta.artist_id AS artist_id, t.album_artist AS artist_name
FROM tracks t JOIN track_artists ta ON ta.track_id = t.id AND ta.role = 'albumartist' AND ta.position = 0
WHERE t.album_id IS NULL;

INSERT INTO albums (id, key, name, artist_id, artist_name, created_at)
SELECT lower(hex(randomblob(16))), k, '[Unknown Album]', min(artist_id), min(artist_name), CAST(strftime('%s', 'now') AS INTEGER)
FROM untagged GROUP BY k;

UPDATE tracks SET album_id = (SELECT al.id FROM untagged u JOIN albums al ON al.key = u.k WHERE u.track_id = tracks.id)
WHERE album_id IS NULL AND id IN (SELECT track_id FROM untagged);

INSERT INTO album_search (rowid, text)
SELECT al.rowid, al.name || ' ' || al.artist_name FROM albums al
WHERE al.key IN (SELECT k FROM untagged);

-- Their figures now (the end of the next scan refreshes every album's and artist's).
UPDATE albums SET song_count = a.n, duration_ms = a.d, year = a.y, folder_id = a.f FROM
  (SELECT album_id, count(*) AS n, coalesce(sum(duration_ms), 0) AS d, max(year) AS y, min(folder_id) AS f
   FROM tracks WHERE missing = 0 AND album_id IS NOT NULL GROUP BY album_id) AS a
WHERE albums.id = a.album_id AND albums.key IN (SELECT k FROM untagged);

DROP TABLE untagged;
