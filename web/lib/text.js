/* text.js -- code points versus UTF-16 indices, and byte counts.
 *
 * Ops count Unicode code points (as the C engine does) while JavaScript
 * strings index UTF-16 units; every conversion between the two lives here.
 * Invariant: no function splits a surrogate pair; an index inside a pair
 * counts as the pair's start. Pure: no I/O, no state. */

/** @param {number} u a UTF-16 unit */
export const isHigh = (u) => u >= 0xd800 && u <= 0xdbff;
/** @param {number} u a UTF-16 unit */
export const isLow = (u) => u >= 0xdc00 && u <= 0xdfff;

/** Number of code points in string 's'.
 * @param {string} s
 * @returns {number} */
export function cpLength(s) {
    let n = s.length;
    for (let i = 0; i < s.length - 1; i++) {
        if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) { n--; i++; }
    }
    return n;
}

/** True when 's' holds no lone surrogate (so it encodes to valid UTF-8).
 * @param {string} s
 * @returns {boolean} */
export function isWellFormed(s) {
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (isHigh(u)) {
            if (i + 1 >= s.length || !isLow(s.charCodeAt(i + 1))) return false;
            i++;
        } else if (isLow(u)) return false;
    }
    return true;
}

/** UTF-16 index 'n' code points after index 'i' of 's', or -1 past the end.
 * @param {string} s
 * @param {number} i
 * @param {number} n
 * @returns {number} */
export function advance(s, i, n) {
    while (n > 0) {
        if (i >= s.length) return -1;
        if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i += 2;
        else i++;
        n--;
    }
    return i;
}

/** The UTF-16 index of code point 'cp' in 's' (clamped to s.length).
 * @param {string} s
 * @param {number} cp
 * @returns {number} */
export function cpToUtf16(s, cp) {
    const i = advance(s, 0, cp);
    return i < 0 ? s.length : i;
}

/** The code point index of UTF-16 index 'i' in 's'. An index inside a
 * surrogate pair counts as the pair's start.
 * @param {string} s
 * @param {number} i
 * @returns {number} */
export function utf16ToCp(s, i) {
    let cp = 0;
    const end = Math.min(i, s.length);
    for (let k = 0; k < end; k++) {
        if (isHigh(s.charCodeAt(k)) && k + 1 < s.length && isLow(s.charCodeAt(k + 1))) {
            if (k + 1 >= end) break;
            k++;
        }
        cp++;
    }
    return cp;
}

/** The first 'n' code points of 's' and the rest.
 * @param {string} s
 * @param {number} n
 * @returns {[string, string]} */
export function splitCp(s, n) {
    const i = advance(s, 0, n);
    return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i)];
}

/** Bytes of 's' in UTF-8 (lone surrogates count 3, as U+FFFD would).
 * @param {string} s
 * @returns {number} */
export function utf8Length(s) {
    let b = 0;
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (u < 0x80) b += 1;
        else if (u < 0x800) b += 2;
        else if (isHigh(u) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) { b += 4; i++; } else b += 3;
    }
    return b;
}

/** Bytes of 's' as a JSON string body (escapes counted).
 * @param {string} s
 * @returns {number} */
export function jsonBytes(s) {
    let b = 0;
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (u < 0x20) b += 6;
        else if (u === 0x22 || u === 0x5c) b += 2;
        else if (u < 0x80) b += 1;
        else if (u < 0x800) b += 2;
        else if (isHigh(u) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) { b += 4; i++; } else b += 3;
    }
    return b;
}
