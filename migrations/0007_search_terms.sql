-- 0007_search_terms.sql -- two-character queries through the trigram index.
-- search_terms lists the index's trigrams (fts5vocab, one row a term), so
-- a query of two characters can take every trigram that starts with them
-- and ask the index for any of those. A text's last two characters start
-- no trigram, so the indexer now stores each text followed by U+FFFF (a
-- noncharacter, stripped when read back): every index row written before
-- this migration is written again by the indexer at start. Never edit this
-- file once shipped.
CREATE VIRTUAL TABLE search_terms USING fts5vocab(search, 'row');

UPDATE documents SET indexed_version = -1;
