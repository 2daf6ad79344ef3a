// Finding a partner: one search at a time, MATCH with the person's interests, asked again by
// itself a few times while nobody is free, what the search is doing meanwhile (the status shown
// beside the button that started it: phase, elapsed time, people online), CANCEL_MATCH, and the
// window a successful search opens.
import { describeError, RequestError } from '../protocol/errors';
import { Code } from '../protocol/types';
import { idleSearch, sessionKey, type MatchPhase, type MatchStatus } from '../store/chat';
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
/**
 * MATCH requests one search makes while the server answers "nobody free" (code 4 after its
 * match wait) before the page says so: someone may come online a moment later.
 */
export const MATCH_ATTEMPTS = 4;
/** The pause between two of them; the server's match wait is the real wait. */
export const MATCH_RETRY_PAUSE_MS = 500;

/** Errors another part of the page deals with (a lost binding, a ban, a logout). */
const HANDLED_ELSEWHERE: ReadonlySet<number> = new Set([Code.UNAUTHORIZED, Code.BANNED]);

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
    case 'failed':
      return status.error;
    case 'idle':
      return null;
  }
}

/** `0:07`, `1:05`: minutes and seconds since the search began. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * The details of a running search, updated every second by the view: elapsed time, people online
 * (known after the first answer) and which attempt this is; null when no search runs.
 */
export function searchProgressText(status: MatchStatus, now: number): string | null {
  if ((status.phase !== 'interests' && status.phase !== 'anyone') || status.startedAt === null) {
    return null;
  }
  const parts = [formatElapsed(now - status.startedAt)];
  if (status.online !== null) parts.push(`${status.online} online`);
  if (status.attempt > 1) parts.push(`try ${status.attempt} of ${status.attempts}`);
  return parts.join(' · ');
}

type AttemptResult = 'matched' | 'none-free' | 'cancelled';

export class MatchFinder {
  private interestTimer: unknown = null;
  private pauseTimer: unknown = null;
  private endPause: ((goOn: boolean) => void) | null = null;
  /** The person cancelled the running search. */
  private cancelled = false;

  /** `opened` runs for the session key of every window a search opened. */
  constructor(
    private readonly ctx: AppContext,
    private readonly opened: (key: string) => void,
  ) {}

  /** Whether a search of this page runs (a MATCH waits for its answer, or the next one will). */
  get searching(): boolean {
    return this.ctx.store.state.matchesInFlight > 0;
  }

  /**
   * Look for a partner: MATCH, again after each "nobody free" up to MATCH_ATTEMPTS in all, then a
   * status saying so. A search already running is not doubled: the call does nothing. `origin` is
   * the window whose button started it, where its status shows.
   */
  async match(origin: string | null = null): Promise<void> {
    const accountId = this.ctx.accountId();
    const state = this.ctx.store.state;
    if (accountId === null || this.searching || state.match.cancelling) return;
    state.matchesInFlight = 1;
    this.cancelled = false;
    state.match = {
      ...idleSearch(),
      startedAt: this.ctx.now(),
      attempts: MATCH_ATTEMPTS,
      origin,
    };
    let outcome: MatchPhase = 'idle';
    try {
      for (let attempt = 1; ; attempt += 1) {
        const result = await this.attempt(accountId, attempt);
        if (result !== 'none-free') {
          outcome = result === 'cancelled' ? 'cancelled' : 'idle';
          return;
        }
        if (attempt >= MATCH_ATTEMPTS) {
          outcome = 'none-free';
          return;
        }
        if (!(await this.pause()) || this.ctx.accountId() !== accountId) {
          outcome = 'cancelled';
          return;
        }
      }
    } catch (error) {
      if (error instanceof RequestError && !HANDLED_ELSEWHERE.has(error.code)) {
        state.match.error = describeError(error);
        outcome = 'failed';
      } else {
        this.ctx.report(error);
      }
    } finally {
      // Logged out or expired meanwhile: nothing is left to say about this search.
      this.settled(this.ctx.accountId() === accountId ? outcome : 'idle');
    }
  }

  /** CANCEL_MATCH: the running search ends at once (its waiting MATCH is answered code 4). */
  async cancel(): Promise<void> {
    const status = this.ctx.store.state.match;
    if (!this.searching || status.cancelling || this.cancelled) return;
    this.cancelled = true;
    if (this.endPause) {
      // Between two attempts nothing waits on the server.
      this.endPause(false);
      return;
    }
    status.cancelling = true;
    try {
      await this.ctx.client.request('CANCEL_MATCH', {}, { timeoutMs: REPLAY_TIMEOUT_MS });
    } catch (error) {
      status.cancelling = false;
      this.cancelled = false;
      this.ctx.report(error);
    }
  }

  /** A conversation opened that no search of this page asked for: the old outcome is stale. */
  sessionOpened(): void {
    if (!this.searching) this.ctx.store.state.match = idleSearch();
  }

  clear(): void {
    this.stopInterestTimer();
    this.endPause?.(false);
  }

  /** One MATCH with the interests the person has now. */
  private async attempt(accountId: number, attempt: number): Promise<AttemptResult> {
    const state = this.ctx.store.state;
    const interests = [...state.interests];
    this.began(interests, attempt);
    try {
      const response = await this.ctx.client.request(
        'MATCH',
        interests.length > 0 ? { accountId, interests } : { accountId },
        { timeoutMs: MATCH_TIMEOUT_MS },
      );
      if (this.ctx.accountId() !== accountId) return 'cancelled';
      this.noteOnline(response.online);
      state.banned = null;
      const key = sessionKey(response.sessionId);
      const session = this.ctx.store.openSession(
        {
          sessionId: response.sessionId,
          partnerId: response.partnerId,
          partnerName: response.partnerName,
          commonInterests: isStringArray(response.commonInterests) ? response.commonInterests : [],
        },
        { activate: true },
      );
      session.fresh = !this.ctx.store.isSeenNow(session);
      this.opened(key);
      state.focusKey = key;
      return 'matched';
    } catch (error) {
      if (error instanceof RequestError && error.code === Code.NOT_FOUND) {
        this.noteOnline(error.details.online);
        // Code 4 is also how the server ends a search that CANCEL_MATCH called off.
        return this.cancelled ? 'cancelled' : 'none-free';
      }
      throw error;
    }
  }

  /** Wait before the next attempt; false if the search was cancelled meanwhile. */
  private pause(): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.endPause = (goOn) => {
        if (this.pauseTimer !== null) this.ctx.timers.clearTimeout(this.pauseTimer);
        this.pauseTimer = null;
        this.endPause = null;
        resolve(goOn);
      };
      this.pauseTimer = this.ctx.timers.setTimeout(() => this.endPause?.(true), MATCH_RETRY_PAUSE_MS);
    });
  }

  private began(interests: string[], attempt: number): void {
    const status = this.ctx.store.state.match;
    status.interests = interests;
    status.attempt = attempt;
    status.phase = interests.length > 0 ? 'interests' : 'anyone';
    this.stopInterestTimer();
    if (interests.length === 0) return;
    this.interestTimer = this.ctx.timers.setTimeout(() => {
      this.interestTimer = null;
      if (this.searching && status.phase === 'interests') status.phase = 'anyone';
    }, INTEREST_WAIT_MS);
  }

  /** The search ended: the status says how, beside the button that started it. */
  private settled(outcome: MatchPhase): void {
    const state = this.ctx.store.state;
    state.matchesInFlight = 0;
    this.stopInterestTimer();
    this.cancelled = false;
    const status = state.match;
    status.phase = outcome;
    status.cancelling = false;
    if (outcome === 'idle') state.match = idleSearch();
  }

  private noteOnline(online: unknown): void {
    if (typeof online === 'number' && Number.isFinite(online)) {
      this.ctx.store.state.match.online = online;
    }
  }

  private stopInterestTimer(): void {
    if (this.interestTimer !== null) this.ctx.timers.clearTimeout(this.interestTimer);
    this.interestTimer = null;
  }
}
