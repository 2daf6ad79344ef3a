// The pure rules behind the page's experience: how windows share a screen, which text becomes a
// link, how long a message may be, which keys are shortcuts, the keyboard-safe height on phones,
// and what a running search says about itself.
import { describe, expect, it } from 'vitest';
import { formatElapsed, searchProgressText } from '../src/app/finder';
import { MIN_WINDOW_HEIGHT, MIN_WINDOW_WIDTH, planLayout, WINDOW_GAP } from '../src/app/layout';
import { linkify, safeHref } from '../src/app/linkify';
import { SHORTCUTS, shortcutFor, type KeyPress } from '../src/app/shortcuts';
import { keyboardFit } from '../src/components/useVisualViewport';
import { checkLength, codePoints, DEFAULT_MAX_CONTENT, limitFromRefusal } from '../src/protocol/limits';
import { idleSearch } from '../src/store/chat';

describe('layout', () => {
  it('puts one or a few windows side by side, filling the area', () => {
    expect(planLayout({ count: 1, width: 1400, height: 800 })).toEqual({ mode: 'grid', columns: 1, rows: 1 });
    expect(planLayout({ count: 2, width: 1400, height: 800 })).toEqual({ mode: 'grid', columns: 2, rows: 1 });
    expect(planLayout({ count: 3, width: 1000, height: 620 })).toEqual({ mode: 'grid', columns: 3, rows: 1 });
  });

  it('uses more rows while every window keeps a usable size, without holes where it can', () => {
    expect(planLayout({ count: 6, width: 1400, height: 800 })).toEqual({ mode: 'grid', columns: 3, rows: 2 });
    expect(planLayout({ count: 5, width: 1400, height: 800 })).toEqual({ mode: 'grid', columns: 3, rows: 2 });
  });

  it('switches to one window beside a list when a grid cell would be too small', () => {
    expect(planLayout({ count: 3, width: 776, height: 430 })).toEqual({ mode: 'focus' });
    expect(planLayout({ count: 9, width: 1400, height: 800 })).toEqual({ mode: 'focus' });
    // Exactly at the minimum still fits.
    const width = 2 * MIN_WINDOW_WIDTH + WINDOW_GAP;
    const height = 2 * MIN_WINDOW_HEIGHT + WINDOW_GAP;
    expect(planLayout({ count: 4, width, height })).toEqual({ mode: 'grid', columns: 2, rows: 2 });
    expect(planLayout({ count: 4, width, height: height - 1 })).toEqual({ mode: 'focus' });
  });

  it('shows windows before the area is measured', () => {
    expect(planLayout({ count: 3, width: 0, height: 0 })).toEqual({ mode: 'grid', columns: 3, rows: 1 });
  });
});

describe('links', () => {
  it('turns http, https and www addresses into links and keeps every character of the text', () => {
    const text = 'see https://example.com/a?b=1, www.example.org. and (http://x.test/path)';
    const pieces = linkify(text);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    expect(pieces.filter((p) => p.kind === 'link')).toEqual([
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'link', text: 'www.example.org', href: 'https://www.example.org/' },
      { kind: 'link', text: 'http://x.test/path', href: 'http://x.test/path' },
    ]);
  });

  it('keeps brackets that belong to the address and drops sentence punctuation', () => {
    const [, link] = linkify('read https://en.wikipedia.org/wiki/Chat_(software)!');
    expect(link).toEqual({
      kind: 'link',
      text: 'https://en.wikipedia.org/wiki/Chat_(software)',
      href: 'https://en.wikipedia.org/wiki/Chat_(software)',
    });
  });

  it('never links another scheme, whatever the message says', () => {
    for (const text of [
      'javascript:alert(1)',
      'JAVASCRIPT://example.com/%0Aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox',
      'file:///etc/passwd',
      '<a href="javascript:alert(1)">x</a>',
    ]) {
      expect(linkify(text).every((p) => p.kind === 'text'), text).toBe(true);
    }
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('https://')).toBeNull();
    // "javascript:" glued before an http address: only the http part is a link.
    const pieces = linkify('javascript:https://example.com');
    expect(pieces.find((p) => p.kind === 'link')).toMatchObject({ href: 'https://example.com/' });
  });

  it('leaves text without addresses as one piece', () => {
    expect(linkify('just words, no www here')).toEqual([{ kind: 'text', text: 'just words, no www here' }]);
    expect(linkify('')).toEqual([]);
  });
});

describe('message length', () => {
  it('counts code points like the server: an emoji is one character', () => {
    expect(codePoints('😀😀')).toBe(2);
    expect('😀😀'.length).toBe(4);
    expect(checkLength('😀'.repeat(DEFAULT_MAX_CONTENT), DEFAULT_MAX_CONTENT)).toMatchObject({ over: 0, near: true });
    expect(checkLength('a'.repeat(DEFAULT_MAX_CONTENT + 3), DEFAULT_MAX_CONTENT)).toMatchObject({ over: 3 });
    expect(checkLength('short', DEFAULT_MAX_CONTENT)).toMatchObject({ over: 0, near: false });
  });

  it("reads a stricter server's limit from its refusal", () => {
    expect(limitFromRefusal('content is over 1000 characters')).toBe(1000);
    expect(limitFromRefusal('content too large')).toBeNull();
  });
});

describe('shortcuts', () => {
  const press = (fields: Partial<KeyPress>): KeyPress => ({
    key: '', code: '', altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, inTextField: false, ...fields,
  });

  it('maps Alt+letters by the physical key, so other keyboard layouts and macOS work', () => {
    expect(shortcutFor(press({ key: '˜', code: 'KeyN', altKey: true }))).toBe('next-partner');
    expect(shortcutFor(press({ key: '¬', code: 'KeyL', altKey: true }))).toBe('leave');
    expect(shortcutFor(press({ key: 'ArrowDown', code: 'ArrowDown', altKey: true }))).toBe('next-window');
    expect(shortcutFor(press({ key: 'ArrowUp', code: 'ArrowUp', altKey: true }))).toBe('previous-window');
    expect(shortcutFor(press({ key: 'j', code: 'KeyJ', altKey: true }))).toBe('new-chat');
    expect(shortcutFor(press({ key: 'n', code: 'KeyN', altKey: true, ctrlKey: true }))).toBeNull();
    expect(shortcutFor(press({ key: 'n', code: 'KeyN' }))).toBeNull();
  });

  it('opens the help with ? outside text fields, and with Ctrl+/ anywhere', () => {
    expect(shortcutFor(press({ key: '?', code: 'Slash', shiftKey: true }))).toBe('help');
    expect(shortcutFor(press({ key: '?', code: 'Slash', shiftKey: true, inTextField: true }))).toBeNull();
    expect(shortcutFor(press({ key: '/', code: 'Slash', ctrlKey: true, inTextField: true }))).toBe('help');
  });

  it('lists every action once', () => {
    expect(new Set(SHORTCUTS.map((s) => s.action)).size).toBe(SHORTCUTS.length);
  });
});

describe('on-screen keyboard', () => {
  it('gives the height above the keyboard while the visual viewport is shorter, at normal zoom', () => {
    expect(keyboardFit({ height: 500, offsetTop: 40, scale: 1 }, 844)).toEqual({ height: 500, offsetTop: 40 });
    expect(keyboardFit({ height: 844, offsetTop: 0, scale: 1 }, 844)).toBeNull();
    expect(keyboardFit({ height: 400, offsetTop: 100, scale: 2 }, 844)).toBeNull(); // pinch zoom
  });
});

describe('search progress', () => {
  it('says elapsed time, people online and the attempt while a search runs', () => {
    const status = { ...idleSearch(), phase: 'anyone' as const, startedAt: 1_000, attempt: 1, attempts: 4 };
    expect(searchProgressText(status, 8_500)).toBe('0:07');
    expect(searchProgressText({ ...status, online: 12, attempt: 3 }, 66_000)).toBe('1:05 · 12 online · try 3 of 4');
    expect(searchProgressText({ ...status, phase: 'none-free' }, 8_500)).toBeNull();
    expect(formatElapsed(-5)).toBe('0:00');
  });
});
