-- 0003_op_clients.sql -- each client's newest op on each document, in place
-- of the (doc, client, seq) index on ops.
-- A resent op is recognised by its client's newest seq (a client's seqs on
-- a document only grow). The index answered that too, but every commit
-- wrote one index leaf per client in it (their ranges lie apart), about
-- half the pages of a commit with several authors; this table keeps a
-- document's clients in a page or two. Kept by storage/ in the same
-- transaction as the op: (doc, client) -> the seq and version of its
-- newest op.
CREATE TABLE op_clients (
    doc     INTEGER NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    client  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (doc, client)
) WITHOUT ROWID;

-- max() makes SQLite take 'version' from the row holding the largest seq.
INSERT INTO op_clients (doc, client, seq, version)
    SELECT doc, client, max(seq), version FROM ops GROUP BY doc, client;

DROP INDEX ops_doc_client_seq;
