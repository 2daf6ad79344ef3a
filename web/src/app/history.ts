// Catching a window up with the server: HISTORY pages after the last message it holds without a
// gap, 200 at a time, until a page comes back short. Overlap with pushes is expected and harmless
// (the store drops what it already has).
import { ClientStoppedError, RequestError } from '../protocol/errors';
import { Code } from '../protocol/types';
import type { AppContext } from './context';
import { REPLAY_TIMEOUT_MS } from './outbox';

/** Largest page the protocol allows; a shorter page means the history is complete. */
export const HISTORY_PAGE = 200;

export class HistoryLoader {
  private readonly running = new Map<string, Promise<void>>();

  /** `loaded` runs after a complete load (the window may now count as read). */
  constructor(
    private readonly ctx: AppContext,
    private readonly loaded: (key: string) => void,
  ) {}

  /** Load what a window is missing; a load already running for it is shared, not repeated. */
  load(key: string): Promise<void> {
    const running = this.running.get(key);
    if (running) return running;
    const load = this.fetch(key).finally(() => this.running.delete(key));
    this.running.set(key, load);
    return load;
  }

  clear(): void {
    this.running.clear();
  }

  private async fetch(key: string): Promise<void> {
    const store = this.ctx.store;
    const session = store.session(key);
    if (!session) return;
    const sessionId = session.sessionId;
    let after = store.historyCursor(key);
    try {
      for (;;) {
        const page = await this.ctx.client.request(
          'HISTORY',
          { sessionId, afterMsgId: after, limit: HISTORY_PAGE },
          { replay: true, timeoutMs: REPLAY_TIMEOUT_MS },
        );
        const messages = Array.isArray(page.messages) ? page.messages : [];
        for (const message of messages) store.addStored(key, message);
        if (messages.length < HISTORY_PAGE) break;
        const last = messages[messages.length - 1]!.msgId;
        if (!(last > after)) break; // a server that does not advance must not loop us forever
        after = last;
      }
    } catch (error) {
      if (error instanceof ClientStoppedError) return;
      if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
        store.markEnded(key, 'closed');
        return;
      }
      this.ctx.report(error);
      return;
    }
    this.loaded(key);
  }
}
