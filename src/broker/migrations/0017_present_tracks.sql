-- The present tracks in rowid order, nothing else: a search3 with the empty query (how clients
-- sync a whole library, 500 songs a page) skips the rows before its page in this index, not in
-- the table, whose wide rows made a deep page cost a read of every row before it.
CREATE INDEX IF NOT EXISTS tracks_present ON tracks(missing) WHERE missing = 0;
