-- Prefix indexes for word-prefix search. Without them FTS5 answers a prefix query ("track"*)
-- by merging the postings of every word with that prefix before it yields the first match:
-- milliseconds for a word most titles share. With an index of the prefix's length the
-- matches stream in rowid order and a page stops early. Words of up to 8 characters cover
-- nearly everything typed into a search box; a longer word is still found, the slower way.
-- FTS5 options cannot be altered: each table is rebuilt from its own stored text.
CREATE VIRTUAL TABLE track_search_new USING fts5(text, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6 7 8');
INSERT INTO track_search_new (rowid, text) SELECT rowid, text FROM track_search;
DROP TABLE track_search;
ALTER TABLE track_search_new RENAME TO track_search;

CREATE VIRTUAL TABLE album_search_new USING fts5(text, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6 7 8');
INSERT INTO album_search_new (rowid, text) SELECT rowid, text FROM album_search;
DROP TABLE album_search;
ALTER TABLE album_search_new RENAME TO album_search;

CREATE VIRTUAL TABLE artist_search_new USING fts5(text, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6 7 8');
INSERT INTO artist_search_new (rowid, text) SELECT rowid, text FROM artist_search;
DROP TABLE artist_search;
ALTER TABLE artist_search_new RENAME TO artist_search;
