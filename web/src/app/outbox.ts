// Own messages on their way: shown at once as pending, sent with DIALOGUE under a requestId that
// never changes (the server stores a requestId at most once), kept in storage until confirmed so a
// refresh re-sends rather than loses them, and marked failed with a reason when refused. A message
// over the length limit is refused before it is sent. One refused for now (code 8: too fast, or
// the partner has too much unread) or as too long (code 9: a server with a lower limit) goes back
// to the composer instead, to be sent or shortened when the person chooses.
import { ClientStoppedError, describeError, RequestError } from '../protocol/errors';
import { codePoints, limitFromRefusal } from '../protocol/limits';
import { Code } from '../protocol/types';
import { canSend, sessionKey } from '../store/chat';
import type { OutboxEntry } from '../store/persistence';
import type { AppContext } from './context';

/**
 * DIALOGUE (and HISTORY, LEAVE) unanswered this long mean a stuck connection: it is replaced and
 * the request re-sent with the same requestId (the server's advice for lost requests).
 */
export const REPLAY_TIMEOUT_MS = 15_000;

/** Blank lines around the text and trailing spaces go; a first line's indentation stays. */
export function normalizeContent(text: string): string {
  return text.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd();
}

/** Whether a failed DIALOGUE may succeed if sent again unchanged. */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof RequestError)) return true; // timeouts, lost connections
  return error.code === Code.INTERNAL_ERR;
}

export class Outbox {
  /** Sent but not confirmed, by requestId (mirrored to storage). */
  private readonly entries = new Map<string, OutboxEntry>();
  /** From before a refresh, waiting for the first RECONNECT to say which sessions still exist. */
  private restoredEntries: OutboxEntry[];
  /** Refused with code 5 (the connection lost its account): sent again once bound. */
  private unbound: OutboxEntry[] = [];

  constructor(private readonly ctx: AppContext, restore: boolean) {
    this.restoredEntries = restore ? ctx.persistence.loadOutbox() : [];
  }

  /**
   * Send a message typed in a window; false if there was nothing to send or it cannot be sent
   * (an ended chat, or longer than the limit: the composer keeps the text either way).
   */
  send(key: string, text: string): boolean {
    const session = this.ctx.store.session(key);
    const content = normalizeContent(text);
    if (!session || this.ctx.accountId() === null || content.trim() === '' || !canSend(session)) {
      return false;
    }
    if (codePoints(content) > this.ctx.store.state.maxContent) return false;
    const entry: OutboxEntry = {
      requestId: this.ctx.client.newRequestId(),
      sessionId: session.sessionId,
      content,
      createdAt: this.ctx.now(),
    };
    this.ctx.store.addPending(key, entry.requestId, entry.content, entry.createdAt);
    this.track(entry);
    this.dispatch(entry);
    return true;
  }

  /** Send a failed message again under its original requestId, so it is stored at most once. */
  retry(key: string, requestId: string): void {
    const store = this.ctx.store;
    const message = store.findByRequest(key, requestId);
    const session = store.session(key);
    if (!message || !session || message.status !== 'failed' || !message.retryable) return;
    if (!canSend(session)) return;
    const entry: OutboxEntry = {
      requestId,
      sessionId: session.sessionId,
      content: message.content,
      createdAt: message.createdAt,
    };
    store.markRetrying(key, requestId);
    this.track(entry);
    this.dispatch(entry);
  }

  discard(key: string, requestId: string): void {
    this.ctx.store.discard(key, requestId);
    this.untrack(requestId);
  }

  /** After the first RECONNECT of a page: re-send what a refresh interrupted, if still possible. */
  restore(openSessions: Set<string>): void {
    const entries = this.restoredEntries;
    this.restoredEntries = [];
    for (const entry of entries) {
      const key = sessionKey(entry.sessionId);
      if (!openSessions.has(key)) continue;
      this.ctx.store.addPending(key, entry.requestId, entry.content, entry.createdAt);
      this.entries.set(entry.requestId, entry);
      this.dispatch(entry);
    }
    this.save();
  }

  /** The connection is bound again: send what was refused for want of a binding. */
  rebound(): void {
    const entries = this.unbound;
    this.unbound = [];
    for (const entry of entries) if (this.entries.has(entry.requestId)) this.dispatch(entry);
  }

  /** The window closed: its unsent messages go with it. */
  forget(key: string): void {
    for (const [requestId, entry] of this.entries) {
      if (sessionKey(entry.sessionId) === key) this.entries.delete(requestId);
    }
    this.save();
  }

  clear(): void {
    this.entries.clear();
    this.restoredEntries = [];
    this.unbound = [];
  }

  private dispatch(entry: OutboxEntry): void {
    const senderId = this.ctx.accountId();
    if (senderId === null) return;
    const key = sessionKey(entry.sessionId);
    const store = this.ctx.store;
    this.ctx.client
      .request(
        'DIALOGUE',
        { senderId, sessionId: entry.sessionId, content: entry.content },
        { replay: true, requestId: entry.requestId, timeoutMs: REPLAY_TIMEOUT_MS },
      )
      .then(
        (response) => {
          this.untrack(entry.requestId);
          store.markSent(key, entry.requestId, response.msgId);
        },
        (error: unknown) => {
          if (error instanceof ClientStoppedError) return; // logged out: nothing left to show
          if (error instanceof RequestError && error.code === Code.UNAUTHORIZED) {
            // Not refused, just not bound right now (another tab took over): keep it pending.
            this.unbound.push(entry);
            this.ctx.report(error);
            return;
          }
          this.untrack(entry.requestId);
          if (error instanceof RequestError && error.code === Code.TOO_LARGE) {
            // The server takes less than the page thought: learn its limit, give the text back.
            const limit = limitFromRefusal(error.serverMsg);
            if (limit !== null) store.state.maxContent = limit;
          }
          if (
            error instanceof RequestError &&
            (error.code === Code.RATE_LIMITED || error.code === Code.TOO_LARGE)
          ) {
            store.discard(key, entry.requestId);
            store.restoreDraft(key, entry.content);
            this.ctx.report(error);
            return;
          }
          if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
            store.markEnded(key, 'closed');
          }
          store.markFailed(key, entry.requestId, describeError(error), isRetryable(error));
          this.ctx.report(error);
        },
      );
  }

  private track(entry: OutboxEntry): void {
    this.entries.set(entry.requestId, entry);
    this.save();
  }

  private untrack(requestId: string): void {
    if (this.entries.delete(requestId)) this.save();
  }

  private save(): void {
    this.ctx.persistence.saveOutbox([...this.entries.values()]);
  }
}
