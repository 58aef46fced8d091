/* error.js -- ChorusError, the one error type the client library throws or
 * emits. Its code is either the C engine's name for an op error
 * ("OT_EZERO", "OT_ERANGE", ...) or one of the protocol's error codes
 * ("too_old", "forbidden", ...), so callers switch on .code, never on the
 * message. */

/** An error with a symbolic code: the C engine's names for op errors
 * ("OT_EZERO", "OT_ERANGE", ...) or the protocol's error codes. */
export class ChorusError extends Error {
    /**
     * @param {string} code symbolic code, kept in .code
     * @param {string} [message] human text; defaults to the code
     */
    constructor(code, message) {
        super(message || code);
        this.name = 'ChorusError';
        /** @type {string} */
        this.code = code;
    }
}
