// Web addresses in chat text, found so the view can make them links (pure; the view renders every
// piece as text, never as HTML). Only http and https become links: `javascript:`, `data:` and any
// other scheme stay plain text, whatever the message says.

export type TextPiece = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/** `https://…`, `http://…` or `www.…` up to the next space or character that cannot end a URL here. */
const CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/giu;
/** Punctuation that ends a sentence rather than the address ("see https://example.com."). */
const TRAILING = /[.,;:!?…»”’]+$/u;
const PAIRS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** Drop trailing punctuation and closing brackets the address does not open itself. */
function trimEnd(candidate: string): string {
  let text = candidate;
  for (;;) {
    const before = text;
    text = text.replace(TRAILING, '');
    const last = text[text.length - 1];
    const opener = last === undefined ? undefined : PAIRS[last];
    if (opener !== undefined) {
      const opened = text.split(opener).length - 1;
      const closed = text.split(last!).length - 1;
      if (closed > opened) text = text.slice(0, -1);
    }
    if (text === before) return text;
  }
}

/** The address a candidate points to, or null if it is not a usable http(s) URL. */
export function safeHref(text: string): string | null {
  const absolute = /^www\./iu.test(text) ? `https://${text}` : text;
  let url: URL;
  try {
    url = new URL(absolute);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return null;
  return url.href;
}

/** Split chat text into plain pieces and links, in order; joined, the pieces are the text. */
export function linkify(text: string): TextPiece[] {
  const pieces: TextPiece[] = [];
  let plainFrom = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const candidate = trimEnd(match[0]);
    const href = safeHref(candidate);
    if (href === null || candidate.length <= 'www.'.length) continue;
    if (start > plainFrom) pieces.push({ kind: 'text', text: text.slice(plainFrom, start) });
    pieces.push({ kind: 'link', text: candidate, href });
    plainFrom = start + candidate.length;
  }
  if (plainFrom < text.length) pieces.push({ kind: 'text', text: text.slice(plainFrom) });
  return pieces;
}
