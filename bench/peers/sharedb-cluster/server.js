// server.js -- one process of the ShareDB cluster of
// bench/peers-cluster.bench.sh (issue 18): the stack teams run to scale
// ShareDB out, set up as the adapters' own READMEs do, nothing tuned --
// sharedb-postgres as the database (it orders versions: a commit is one
// INSERT ... WHERE version = latest + 1, autocommitted, so an acked op is
// on disk) and sharedb-redis-pubsub for the fan-out between processes,
// ot-text-unicode registered, one WebSocket server on loopback handing each
// connection to backend.listen() through WebSocketJSONStream.
//
// Usage: node server.js PORT POSTGRES-URL REDIS-URL PREFIX
// The tables are sharedb-postgres's structure.sql (the bench script loads
// it); PREFIX keeps the Redis channels apart from Chorus's. Prints
// "listening PORT" once it accepts connections; stops on SIGTERM.
'use strict';
const http = require('http');
const ShareDB = require('sharedb');
const PostgresDB = require('sharedb-postgres');
const RedisPubSub = require('sharedb-redis-pubsub');
const WebSocket = require('ws');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');

const textType = require('ot-text-unicode').type;
ShareDB.types.register(textType);

// sharedb-postgres 5.0.1 reads a snapshot's data as `row.data || undefined`,
// which turns an empty text ("") into no data at all, and ShareDB then
// refuses every op on it ("Invalid document snapshot: undefined"): an empty
// text document could never be edited. Give it its empty string back.
const getSnapshot = PostgresDB.prototype.getSnapshot;
PostgresDB.prototype.getSnapshot = function (collection, id, fields, options, callback) {
    getSnapshot.call(this, collection, id, fields, options, (err, snapshot) => {
        if (!err && snapshot.type === textType.uri && snapshot.data === undefined)
            snapshot.data = '';
        callback(err, snapshot);
    });
};

const [port, pgUrl, redisUrl, prefix] = process.argv.slice(2);
if (!port || !pgUrl || !redisUrl || !prefix) {
    console.error('usage: node server.js PORT POSTGRES-URL REDIS-URL PREFIX');
    process.exit(2);
}
const backend = new ShareDB({
    db: new PostgresDB({ connectionString: pgUrl }),
    pubsub: new RedisPubSub({ url: redisUrl, prefix }),
});
backend.pubsub.on('error', (err) => console.error('pubsub:', err.message));
const server = http.createServer();
const wss = new WebSocket.Server({ server });
wss.on('connection', (ws) => {
    // websocket-json-stream leaves errors to us (its README): a client that
    // resets its connection must not bring the process down.
    const stream = new WebSocketJSONStream(ws);
    ws.on('error', () => {});
    stream.on('error', () => {});
    backend.listen(stream);
});
// HAProxy's health check (the same `option httpchk GET /readyz` as in front
// of Chorus): ready once PostgreSQL answers. /healthz: the process is up.
server.on('request', (req, res) => {
    if (req.url === '/healthz') {
        res.writeHead(200).end('ok\n');
        return;
    }
    if (req.url !== '/readyz') {
        res.writeHead(404).end();
        return;
    }
    backend.db._pool.query('SELECT 1').then(
        () => res.writeHead(200).end('ready\n'),
        () => res.writeHead(503).end('no database\n'));
});
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
