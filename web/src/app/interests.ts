// The interest rules of MATCH (docs/protocol.md, version 1.1), applied in the page: at most five
// tags, each 1-24 characters after trimming, compared lowercased, so the page sends them that way.

export const MAX_INTERESTS = 5;
export const INTEREST_MAX_CHARS = 24;

export interface InterestsEdit {
  /** The tags after the edit: the earlier ones first, no repeats, at most MAX_INTERESTS. */
  tags: string[];
  /** Why some of the text was not taken, for the person; null if all of it was. */
  problem: string | null;
  /** The pieces not taken, comma-separated, to leave in the input for the person to fix. */
  rest: string;
}

/** One tag as sent: trimmed, inner whitespace collapsed, lowercased. Empty if nothing is left. */
export function normalizeInterest(raw: string): string {
  return raw.trim().replace(/\s+/gu, ' ').toLowerCase();
}

/**
 * Add the comma-separated tags of `text` to `existing`. Empty pieces are skipped; tags over
 * INTEREST_MAX_CHARS (counted in code points, like the server) and tags past the fifth are left
 * out, and `problem` says so.
 */
export function addInterests(existing: readonly string[], text: string): InterestsEdit {
  const tags = [...existing];
  const left: string[] = [];
  let tooLong = false;
  for (const piece of text.split(',')) {
    const tag = normalizeInterest(piece);
    if (tag === '' || tags.includes(tag)) continue;
    if ([...tag].length > INTEREST_MAX_CHARS) tooLong = true;
    else if (tags.length < MAX_INTERESTS) {
      tags.push(tag);
      continue;
    }
    left.push(piece.trim());
  }
  let problem: string | null = null;
  if (tooLong) problem = `An interest has at most ${INTEREST_MAX_CHARS} characters.`;
  else if (left.length > 0) problem = `At most ${MAX_INTERESTS} interests: remove one first.`;
  return { tags, problem, rest: left.join(', ') };
}

/** Comma-separated text as the tags MATCH takes. */
export function parseInterests(text: string): string[] {
  return addInterests([], text).tags;
}

/** Saved or restored tags, checked again (storage may hold anything). */
export function cleanInterests(tags: readonly string[]): string[] {
  return addInterests([], tags.join(',')).tags;
}
