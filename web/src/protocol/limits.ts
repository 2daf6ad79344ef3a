// The message length rule of DIALOGUE (docs/protocol.md: 4096 characters, counted in Unicode
// code points like the server, so an emoji is one and not two), applied in the page so a message
// that is too long is refused before it is sent.

export const DEFAULT_MAX_CONTENT = 4096;
/** The counter shows once this few characters are left. */
export const COUNTER_MARGIN = 300;

/** Characters as the server counts them. */
export function codePoints(text: string): number {
  return [...text].length;
}

/**
 * The limit a code 9 answer names (`content is over 4096 characters`), for a server that takes
 * less than the default; null when the message says no number.
 */
export function limitFromRefusal(message: string): number | null {
  const found = /over (\d+)/u.exec(message);
  const limit = found ? Number(found[1]) : NaN;
  return Number.isSafeInteger(limit) && limit > 0 ? limit : null;
}

export interface LengthCheck {
  length: number;
  limit: number;
  /** Characters over the limit (0 when it fits). */
  over: number;
  /** Whether the counter should show: near or over the limit. */
  near: boolean;
}

export function checkLength(text: string, limit: number): LengthCheck {
  const length = codePoints(text);
  return { length, limit, over: Math.max(0, length - limit), near: length >= limit - COUNTER_MARGIN };
}
