// Read receipts in both directions. Outgoing: partner messages count as seen once they are on
// screen in a visible page (the view reports the highest one shown), and VIEWED_ACK tells the
// partner up to there (again after a drop if needed); a message scrolled out of sight is not seen.
// Incoming: ViewedAck turns own messages to "seen". Both marks are kept in storage, because the
// server neither replays acknowledged ViewedAcks nor carries them in HISTORY.
import type { ChatSession } from '../store/chat';
import type { AppContext } from './context';

export class ReadReceipts {
  /** Highest partner msgId seen per session, so unread counts survive a refresh. */
  private readonly viewed: Map<string, number>;
  /** Highest own msgId the partner has seen per session. */
  private readonly seen: Map<string, number>;
  /** Highest msgId the server confirmed for VIEWED_ACK per session, to re-send what a drop lost. */
  private readonly acked = new Map<string, number>();

  constructor(private readonly ctx: AppContext, restore: boolean) {
    this.viewed = restore ? ctx.persistence.loadViewed() : new Map();
    this.seen = restore ? ctx.persistence.loadSeen() : new Map();
  }

  /** Where a (re)opened window's read state starts. */
  viewedUpTo(key: string): number {
    return this.viewed.get(key) ?? 0;
  }

  /** A window was (re)opened from RECONNECT: put back its marks from before a refresh. */
  restored(key: string): void {
    const viewed = this.viewed.get(key) ?? 0;
    // What was seen before the refresh was acknowledged then; do not repeat it.
    if (viewed > (this.acked.get(key) ?? 0)) this.acked.set(key, viewed);
    this.ctx.store.markPartnerSeen(key, this.seen.get(key) ?? 0);
  }

  /** Count the partner messages on screen in a visible page as seen, and tell the partner. */
  ackIfSeen(key: string): void {
    const store = this.ctx.store;
    const session = store.session(key);
    if (!session || !store.state.documentVisible || session.visibleUpTo <= session.viewedUpTo) return;
    const msgId = store.markViewed(key, session.visibleUpTo);
    if (msgId === null) return;
    this.viewed.set(key, msgId);
    this.ctx.persistence.saveViewed(this.viewed);
    this.send(session, msgId);
  }

  /** A ViewedAck from the partner. */
  partnerSaw(key: string, msgId: number): void {
    if (msgId <= (this.seen.get(key) ?? 0)) return;
    this.ctx.store.markPartnerSeen(key, msgId);
    this.seen.set(key, msgId);
    this.ctx.persistence.saveSeen(this.seen);
  }

  /** Online again: send the VIEWED_ACKs that could not go out while the connection was down. */
  resend(): void {
    for (const session of this.ctx.store.state.sessions) {
      if (session.viewedUpTo > (this.acked.get(session.key) ?? 0)) {
        this.send(session, session.viewedUpTo);
      }
    }
  }

  forget(key: string): void {
    this.viewed.delete(key);
    this.seen.delete(key);
    this.acked.delete(key);
    this.ctx.persistence.saveViewed(this.viewed);
    this.ctx.persistence.saveSeen(this.seen);
  }

  clear(): void {
    this.viewed.clear();
    this.seen.clear();
    this.acked.clear();
  }

  private send(session: ChatSession, msgId: number): void {
    if (session.ended) return;
    const key = session.key;
    this.ctx.client
      .request('VIEWED_ACK', { sessionId: session.sessionId, msgId }, { volatile: true })
      .then(
        () => {
          if (msgId > (this.acked.get(key) ?? 0)) this.acked.set(key, msgId);
        },
        () => {
          // Not connected or refused: resend() tries again once the connection is back.
        },
      );
  }
}
