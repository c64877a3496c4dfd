-- A number that changes whenever a commit changes where an album stands in getAlbumList2's
-- alphabeticalByName, alphabeticalByArtist or newest order, or whether it is listed at all
-- (song_count > 0). The broker keeps each of those orders in memory (broker::album_order)
-- and reuses one only while this number, read in the same snapshot as the page, is the one
-- it was built at; so a deep page costs its own rows, not the OFFSET rows before it (a page
-- at offset 90,000 read 90,000 index entries).
--
-- Kept by triggers rather than by the code that writes albums, so that no writer, now or
-- later, can change an order without changing the number. Every insert counts, listed or
-- not: a REPLACE's implicit delete fires no trigger (recursive_triggers is off), so the
-- insert must stand for it. Rowids, which the orders hold, change only by VACUUM, which runs
-- only while no daemon holds the data folder (vault::erase_old_pages).
CREATE TABLE IF NOT EXISTS album_order_version (v INTEGER NOT NULL) STRICT;
INSERT INTO album_order_version SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM album_order_version);
CREATE TRIGGER IF NOT EXISTS album_order_insert AFTER INSERT ON albums
BEGIN UPDATE album_order_version SET v = v + 1; END;
CREATE TRIGGER IF NOT EXISTS album_order_delete AFTER DELETE ON albums WHEN OLD.song_count > 0
BEGIN UPDATE album_order_version SET v = v + 1; END;
CREATE TRIGGER IF NOT EXISTS album_order_update
AFTER UPDATE OF id, name, sort_name, artist_name, created_at, song_count ON albums
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.sort_name IS NOT NEW.sort_name
  OR OLD.artist_name IS NOT NEW.artist_name OR OLD.created_at IS NOT NEW.created_at
  OR (OLD.song_count > 0) IS NOT (NEW.song_count > 0)
BEGIN UPDATE album_order_version SET v = v + 1; END;
