// The nickname rules, checked in the page before CRT_ACCOUNT so mistakes show at once; the server
// applies the same ones (docs/protocol.md, CRT_ACCOUNT).

export const NICKNAME_MAX = 32;

/** Why a nickname cannot be used, or null if it can. */
export function nicknameProblem(raw: string): string | null {
  const nick = raw.trim();
  if (nick.length === 0) return 'Please enter a nickname.';
  // Counted in code points, like the server (an emoji is one character, not two).
  if ([...nick].length > NICKNAME_MAX) return `A nickname has at most ${NICKNAME_MAX} characters.`;
  // The server refuses control, line and paragraph separator and format characters, but for the
  // joiners and tags that emoji sequences and some scripts need where they are needed; whether
  // one is in its place is left to the server, which answers code 1 when it is not.
  if (/[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200C\u200D\u{E0020}-\u{E007F}])\p{Cf}/u.test(nick)) {
    return 'A nickname cannot contain control characters.';
  }
  return null;
}
