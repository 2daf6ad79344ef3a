// The interest rules MATCH takes: at most five tags of 1-24 characters, trimmed, lowercased, no
// repeats; and the status line of a search.
import { describe, expect, it } from 'vitest';
import { matchStatusText } from '../src/app/finder';
import { addInterests, cleanInterests, parseInterests } from '../src/app/interests';
import { idleSearch, type MatchStatus } from '../src/store/chat';

describe('interests', () => {
  it('splits on commas, trims, collapses inner spaces, lowercases and drops empty pieces', () => {
    expect(parseInterests('  Music, board   Games ,, ,JAZZ ')).toEqual(['music', 'board games', 'jazz']);
    expect(parseInterests('')).toEqual([]);
    expect(parseInterests(' , ,')).toEqual([]);
  });

  it('keeps the first of tags that differ only in case or spacing', () => {
    expect(parseInterests('Music, music , MUSIC, films')).toEqual(['music', 'films']);
  });

  it('takes at most five and says so, leaving the rest in the field', () => {
    const edit = addInterests([], 'a, b, c, d, e, f, g');
    expect(edit.tags).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(edit.problem).toMatch(/At most 5/);
    expect(edit.rest).toBe('f, g');
  });

  it('refuses a tag over 24 characters (counted in code points, like the server) and leaves it to fix', () => {
    const long = 'x'.repeat(25);
    const edit = addInterests(['music'], `${long}, films`);
    expect(edit.tags).toEqual(['music', 'films']);
    expect(edit.problem).toMatch(/24 characters/);
    expect(edit.rest).toBe(long);
    expect(parseInterests('🎸'.repeat(24))).toEqual(['🎸'.repeat(24)]);
    expect(parseInterests('y'.repeat(24))).toEqual(['y'.repeat(24)]);
  });

  it('adds to existing tags without repeating them', () => {
    expect(addInterests(['music'], 'Music, chess')).toEqual({ tags: ['music', 'chess'], problem: null, rest: '' });
  });

  it('cleans tags read back from storage by the same rules', () => {
    expect(cleanInterests(['Music', 'music', '', 'x'.repeat(30), 'a', 'b', 'c', 'd', 'e'])).toEqual([
      'music', 'a', 'b', 'c', 'd',
    ]);
  });
});

describe('match status', () => {
  const status = (fields: Partial<MatchStatus>): MatchStatus => ({ ...idleSearch(), ...fields });

  it('says what the search is doing', () => {
    expect(matchStatusText(status({ phase: 'interests', interests: ['music', 'games'] }))).toBe(
      'Looking for someone who likes music, games…',
    );
    expect(matchStatusText(status({ phase: 'anyone' }))).toBe('Looking for anyone…');
    expect(matchStatusText(status({ phase: 'none-free', online: 3 }))).toBe('No one is free right now (3 online).');
    expect(matchStatusText(status({ phase: 'none-free' }))).toBe('No one is free right now.');
    expect(matchStatusText(status({ phase: 'cancelled' }))).toBe('Search cancelled.');
    expect(matchStatusText(status({ phase: 'anyone', cancelling: true }))).toBe('Cancelling the search…');
    expect(matchStatusText(status({}))).toBeNull();
  });
});
