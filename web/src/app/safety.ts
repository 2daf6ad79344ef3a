// Reporting and blocking a partner (REPORT, BLOCK). Both end the conversation and keep the two
// people from being matched again; the window stays, readable, marked as ended by this person.
import { RequestError } from '../protocol/errors';
import { Code, type ReportReason } from '../protocol/types';
import type { SessionEnd } from '../store/chat';
import type { AppContext } from './context';
import { REPLAY_TIMEOUT_MS } from './outbox';

/** The longest note REPORT takes (the protocol's limit). */
export const REPORT_NOTE_MAX = 500;

export class Safety {
  constructor(private readonly ctx: AppContext) {}

  /**
   * REPORT the partner of a window, with an optional note; resolves true once the server took it.
   * Repeating a report changes nothing on the server, so one cut off by a drop is sent again.
   */
  async report(key: string, reason: ReportReason, note: string): Promise<boolean> {
    const session = this.ctx.store.session(key);
    if (!session || session.ended === 'reported') return false;
    const text = note.trim();
    const sent = await this.send(
      key,
      'reported',
      this.ctx.client.request(
        'REPORT',
        { sessionId: session.sessionId, reason, ...(text ? { note: text } : {}) },
        { replay: true, timeoutMs: REPLAY_TIMEOUT_MS },
      ),
    );
    if (sent) {
      this.ctx.inform(`Thank you. Your report about ${session.partnerName} was sent to the moderators.`);
    }
    return sent;
  }

  /** BLOCK the partner of a window; resolves true once the server took it. */
  async block(key: string): Promise<boolean> {
    const session = this.ctx.store.session(key);
    if (!session || session.ended === 'reported' || session.ended === 'blocked') return false;
    return this.send(
      key,
      'blocked',
      this.ctx.client.request('BLOCK', { sessionId: session.sessionId }),
    );
  }

  private async send(key: string, end: SessionEnd, request: Promise<unknown>): Promise<boolean> {
    try {
      await request;
    } catch (error) {
      if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
        this.ctx.store.markEnded(key, 'closed');
      }
      this.ctx.report(error);
      return false;
    }
    this.ctx.store.markEnded(key, end);
    return true;
  }
}
