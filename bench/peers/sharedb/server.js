// server.js -- ShareDB for bench/peers.bench.sh: the backend in memory
// (ShareDB's default MemoryDB and pub/sub), ot-text-unicode registered, one
// WebSocket server on loopback, each connection handed to backend.listen()
// through WebSocketJSONStream -- the setup of ShareDB's own README and
// examples, nothing tuned. Usage: node server.js PORT. Prints "listening
// PORT" once it accepts connections; stops on SIGTERM.
'use strict';
const http = require('http');
const ShareDB = require('sharedb');
const WebSocket = require('ws');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');

ShareDB.types.register(require('ot-text-unicode').type);

const port = Number(process.argv[2] || 8081);
const backend = new ShareDB();
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
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
