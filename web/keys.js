/* keys.js -- the editor's keyboard shortcuts and the dialog listing them.
 *
 * The '?' button (or '?' typed outside a text field) opens a modal dialog
 * with every shortcut the editor has; Escape or Close shuts it and focus
 * goes back where it was. Shortcuts for the views: Ctrl+Alt+1/2/3 (Ctrl+
 * Option on a Mac) by physical key, ignored while an IME composes and
 * when AltGr is down (Ctrl+Alt is AltGr on Windows: AltGr+2 types a
 * character on many European layouts and must keep doing so). */

/* Everything listed in the dialog: [keys, what]. */
export const SHORTCUTS = [
    ['Ctrl+Alt+1', 'Edit: the text only'],
    ['Ctrl+Alt+2', 'Split: the text beside its Markdown preview'],
    ['Ctrl+Alt+3', 'Preview: the rendered Markdown only'],
    ['Ctrl+Z', 'Undo your last edit (others\u2019 edits stay)'],
    ['Ctrl+Shift+Z, Ctrl+Y', 'Redo'],
    ['Enter on the title', 'Rename the document (Enter saves, Escape cancels)'],
    ['?', 'This list (outside the text)'],
    ['Escape', 'Close a dialog'],
];

function typing(el) {
    return el && (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable ||
        (el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'range', 'submit'].includes(el.type)));
}

/* opts: { button, dialog, list (a tbody), close (button), setView(v) }. */
export function initKeys({ button, dialog, list, close, setView }) {
    const mac = /Mac|iPhone|iPad/.test(navigator.platform || '');
    for (const [k, what] of SHORTCUTS) {
        const tr = document.createElement('tr');
        const th = document.createElement('th');
        th.scope = 'row';
        for (const [i, part] of k.split(', ').entries()) {
            if (i) th.append(' or ');
            const kbd = document.createElement('kbd');
            kbd.textContent = mac ? part.replace('Ctrl+Alt', 'Ctrl+Option').replace(/^Ctrl\+(?!Option)/, 'Cmd+') : part;
            th.appendChild(kbd);
        }
        const td = document.createElement('td');
        td.textContent = what;
        tr.append(th, td);
        list.appendChild(tr);
    }
    let back = null;
    const open = () => {
        if (dialog.open) return;
        back = document.activeElement;
        dialog.showModal();
        close.focus();
    };
    button.addEventListener('click', open);
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
        if (back && back.isConnected && typeof back.focus === 'function') back.focus();
        back = null;
    });
    document.addEventListener('keydown', (e) => {
        if (e.isComposing || e.keyCode === 229) return;
        if (e.ctrlKey && e.altKey && !e.shiftKey && !e.metaKey && !e.getModifierState('AltGraph')) {
            const v = { Digit1: 'edit', Digit2: 'split', Digit3: 'preview' }[e.code];
            if (v) { e.preventDefault(); if (dialog.open) dialog.close(); setView(v); }
            return;
        }
        if (e.key === '?' && !e.ctrlKey && !e.altKey && !e.metaKey && !typing(e.target)) {
            e.preventDefault();
            open();
        }
    });
    return { open };
}
