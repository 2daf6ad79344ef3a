// Typing hints in both directions: TYPING sent at most once per throttle interval while the
// person types, and the partner's "is typing…" shown for a few seconds after each Typing signal.
import { RequestError } from '../protocol/errors';
import { Code } from '../protocol/types';
import { canSend } from '../store/chat';
import type { AppContext } from './context';

/** Send TYPING at most this often per conversation. */
export const TYPING_THROTTLE_MS = 2_000;
/** Show the partner as typing this long after their last Typing signal. */
export const TYPING_SHOWN_MS = 3_000;

export class TypingSignals {
  private readonly sentAt = new Map<string, number>();
  private readonly timers = new Map<string, unknown>();

  constructor(private readonly ctx: AppContext) {}

  /** Input activity in a window: tell the partner, unless we did so very recently. */
  input(key: string, text: string): void {
    const session = this.ctx.store.session(key);
    if (!session || !canSend(session) || text.trim() === '') return;
    const now = this.ctx.now();
    const last = this.sentAt.get(key);
    if (last !== undefined && now - last < TYPING_THROTTLE_MS) return;
    this.sentAt.set(key, now);
    this.ctx.client.request('TYPING', { sessionId: session.sessionId }, { volatile: true }).catch(
      (error: unknown) => {
        if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
          this.ctx.store.markEnded(key, 'closed');
        }
        // Otherwise a lost typing hint is not worth the person's attention.
      },
    );
  }

  /** The person sent their message: they stopped typing, so the next keystroke signals again. */
  sent(key: string): void {
    this.sentAt.delete(key);
  }

  /** A Typing signal from the partner. */
  partnerTyping(key: string): void {
    if (!this.ctx.store.session(key)) return;
    this.ctx.store.setPartnerTyping(key, true);
    this.clearTimer(key);
    this.timers.set(
      key,
      this.ctx.timers.setTimeout(() => this.partnerStopped(key), TYPING_SHOWN_MS),
    );
  }

  /** The partner's message arrived, they left, or the hint timed out. */
  partnerStopped(key: string): void {
    this.clearTimer(key);
    this.ctx.store.setPartnerTyping(key, false);
  }

  forget(key: string): void {
    this.partnerStopped(key);
    this.sentAt.delete(key);
  }

  clear(): void {
    for (const key of [...this.timers.keys()]) this.clearTimer(key);
    this.sentAt.clear();
  }

  private clearTimer(key: string): void {
    const handle = this.timers.get(key);
    if (handle !== undefined) this.ctx.timers.clearTimeout(handle);
    this.timers.delete(key);
  }
}
