/* chorus.js -- the Chorus client library (protocol chorus.v1): the entry.
 *
 * Usable without the editor UI, in a browser (import * as C from
 * '/chorus.js') or under node. This file only re-exports the public API of
 * the modules under web/lib/, one per concern, so that every page and test
 * keeps importing this one path (see docs/web.md for the layout):
 *   lib/text.js        code points versus UTF-16 indices
 *   lib/ops.js         the op algebra (mirrors the C engine in ot/)
 *   lib/otclient.js    the OT client state machine
 *   lib/undo.js        undo/redo of local edits over remote ones
 *   lib/doc.js         one document over the protocol
 *   lib/connection.js  the WebSocket, reconnection, message routing
 *   lib/authors.js     authorship runs kept current as ops apply
 * Invariant: plain ES modules with relative imports, no bundler; the
 * server serves web/ as files (.js as text/javascript). */
export { ChorusError } from './lib/error.js';
export { cpLength, cpToUtf16, isWellFormed, utf16ToCp, utf8Length } from './lib/text.js';
export {
    LEFT, RIGHT, MAX_LEN, apply, baseLen, compose, diff, invert, isNoop, normalize, opEqual,
    parseOp, parseOpBytes, pushDelete, pushInsert, pushRetain, splice, splitOp, targetLen,
    transform, transformPos,
} from './lib/ops.js';
export { OTClient } from './lib/otclient.js';
export { claimClientId, colorFor, randomId } from './lib/ids.js';
export { UndoStack, caretAfter } from './lib/undo.js';
export { Doc, DocState } from './lib/doc.js';
export { Connection } from './lib/connection.js';
export { applyAuthors, paletteColor, runsFromSpans, runsLength } from './lib/authors.js';
