// The page's keyboard shortcuts: one table, used both to act on a key press and to list the keys
// in the help dialog, so the two cannot disagree (pure; the view listens and acts).

export type ShortcutAction =
  | 'next-partner'
  | 'leave'
  | 'next-window'
  | 'previous-window'
  | 'new-chat'
  | 'help';

/** The parts of a KeyboardEvent a shortcut depends on. */
export interface KeyPress {
  key: string;
  /** The physical key (`KeyN`): Alt+letter types other characters on some keyboards (macOS). */
  code: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  /** Whether the focus is in a field that takes text (a plain `?` is typed there, not a shortcut). */
  inTextField: boolean;
}

export interface Shortcut {
  action: ShortcutAction;
  /** How the keys are written for people, and for `aria-keyshortcuts`. */
  keys: string;
  label: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { action: 'next-partner', keys: 'Alt+N', label: 'Next: end this chat and find someone new' },
  { action: 'leave', keys: 'Alt+L', label: 'Leave this chat (Undo for a few seconds; closes an ended chat)' },
  { action: 'next-window', keys: 'Alt+ArrowDown', label: 'Go to the next conversation' },
  { action: 'previous-window', keys: 'Alt+ArrowUp', label: 'Go to the previous conversation' },
  { action: 'new-chat', keys: 'Alt+J', label: 'New chat: look for someone' },
  { action: 'help', keys: 'Shift+?', label: 'Show these shortcuts (outside a text field; Ctrl+/ anywhere)' },
];

/** Keys that are not page shortcuts but belong in the same list. */
export const OTHER_KEYS: readonly { keys: string; label: string }[] = [
  { keys: 'Enter', label: 'Send the message' },
  { keys: 'Shift+Enter', label: 'New line in the message' },
  { keys: 'Escape', label: 'Close a dialog or a question' },
  { keys: '← / →, ↑ / ↓', label: 'Move between conversation tabs (in the list of conversations)' },
];

export function keysFor(action: ShortcutAction): string {
  return SHORTCUTS.find((s) => s.action === action)?.keys ?? '';
}

/** The action a key press asks for, or null if it is not a shortcut. */
export function shortcutFor(press: KeyPress): ShortcutAction | null {
  const onlyAlt = press.altKey && !press.ctrlKey && !press.metaKey && !press.shiftKey;
  if (onlyAlt) {
    switch (press.code) {
      case 'KeyN':
        return 'next-partner';
      case 'KeyL':
        return 'leave';
      case 'KeyJ':
        return 'new-chat';
      case 'ArrowDown':
        return 'next-window';
      case 'ArrowUp':
        return 'previous-window';
      default:
        return null;
    }
  }
  if (press.ctrlKey && !press.altKey && !press.metaKey && (press.key === '/' || press.code === 'Slash')) {
    return 'help';
  }
  if (press.key === '?' && !press.altKey && !press.ctrlKey && !press.metaKey && !press.inTextField) {
    return 'help';
  }
  return null;
}
