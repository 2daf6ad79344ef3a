// Finding a partner: MATCH with the person's interests, what the search is doing meanwhile (the
// status line beside the button), CANCEL_MATCH, and the window a successful search opens.
import { RequestError } from '../protocol/errors';
import { Code } from '../protocol/types';
import { sessionKey, type MatchPhase, type MatchStatus } from '../store/chat';
import { isStringArray } from '../store/persistence';
import type { AppContext } from './context';
import { REPLAY_TIMEOUT_MS } from './outbox';

/** MATCH may wait for a partner on the server (its --match-wait); give up well after that. */
export const MATCH_TIMEOUT_MS = 60_000;
/**
 * The server's interest wait (default 5 s): after it, a search with interests takes anyone. The
 * server falls back by itself; the page only says so after the same time.
 */
export const INTEREST_WAIT_MS = 5_000;

/** The status line for a search, or null when there is nothing to say. */
export function matchStatusText(status: MatchStatus): string | null {
  if (status.cancelling) return 'Cancelling the search…';
  switch (status.phase) {
    case 'interests':
      return `Looking for someone who likes ${status.interests.join(', ')}…`;
    case 'anyone':
      return 'Looking for anyone…';
    case 'none-free':
      return status.online === null
        ? 'No one is free right now.'
        : `No one is free right now (${status.online} online).`;
    case 'cancelled':
      return 'Search cancelled.';
    case 'idle':
      return null;
  }
}

export class MatchFinder {
  private interestTimer: unknown = null;

  /** `opened` runs for the session key of every window a search opened. */
  constructor(
    private readonly ctx: AppContext,
    private readonly opened: (key: string) => void,
  ) {}

  /** Whether a MATCH of this page waits for its answer. */
  get searching(): boolean {
    return this.ctx.store.state.matchesInFlight > 0;
  }

  /** MATCH: a new window with a new partner, or a status line (and a notice) saying why not. */
  async match(): Promise<void> {
    const accountId = this.ctx.accountId();
    const state = this.ctx.store.state;
    if (accountId === null || state.match.cancelling) return;
    const interests = [...state.interests];
    state.matchesInFlight += 1;
    this.began(interests);
    let outcome: MatchPhase = 'idle';
    try {
      const response = await this.ctx.client.request(
        'MATCH',
        interests.length > 0 ? { accountId, interests } : { accountId },
        { timeoutMs: MATCH_TIMEOUT_MS },
      );
      if (this.ctx.accountId() !== accountId) return;
      this.noteOnline(response.online);
      state.banned = null;
      const key = sessionKey(response.sessionId);
      this.opened(key);
      this.ctx.store.openSession(
        {
          sessionId: response.sessionId,
          partnerId: response.partnerId,
          partnerName: response.partnerName,
          commonInterests: isStringArray(response.commonInterests) ? response.commonInterests : [],
        },
        { activate: true },
      );
      state.focusKey = key;
    } catch (error) {
      if (error instanceof RequestError && error.code === Code.NOT_FOUND) {
        this.noteOnline(error.details.online);
        // Code 4 is also how the server ends a search that CANCEL_MATCH called off.
        outcome = state.match.cancelling ? 'cancelled' : 'none-free';
        if (outcome === 'cancelled') return;
      }
      this.ctx.report(error);
    } finally {
      this.settled(outcome);
    }
  }

  /** CANCEL_MATCH: every search of this connection still waiting ends (code 4) at once. */
  async cancel(): Promise<void> {
    const status = this.ctx.store.state.match;
    if (!this.searching || status.cancelling) return;
    status.cancelling = true;
    try {
      await this.ctx.client.request('CANCEL_MATCH', {}, { timeoutMs: REPLAY_TIMEOUT_MS });
    } catch (error) {
      status.cancelling = false;
      this.ctx.report(error);
    }
  }

  /** A conversation opened that no search of this page asked for: the old outcome is stale. */
  sessionOpened(): void {
    if (!this.searching) this.ctx.store.state.match.phase = 'idle';
  }

  clear(): void {
    this.stopTimer();
  }

  private began(interests: string[]): void {
    const status = this.ctx.store.state.match;
    status.interests = interests;
    status.online = null;
    status.phase = interests.length > 0 ? 'interests' : 'anyone';
    this.stopTimer();
    if (interests.length === 0) return;
    this.interestTimer = this.ctx.timers.setTimeout(() => {
      this.interestTimer = null;
      if (this.searching && status.phase === 'interests') status.phase = 'anyone';
    }, INTEREST_WAIT_MS);
  }

  /** One search ended; the last one to end decides what the status line says. */
  private settled(outcome: MatchPhase): void {
    const state = this.ctx.store.state;
    if (state.matchesInFlight > 0) state.matchesInFlight -= 1;
    if (state.matchesInFlight > 0) return;
    this.stopTimer();
    state.match.phase = outcome;
    state.match.cancelling = false;
  }

  private noteOnline(online: unknown): void {
    if (typeof online === 'number' && Number.isFinite(online)) {
      this.ctx.store.state.match.online = online;
    }
  }

  private stopTimer(): void {
    if (this.interestTimer !== null) this.ctx.timers.clearTimeout(this.interestTimer);
    this.interestTimer = null;
  }
}
