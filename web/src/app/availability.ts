// Whether others may start a chat with this person (AVAILABILITY). The checkbox changes at once;
// a refusal puts it back to what the server last confirmed. The server keeps the setting across
// RECONNECT and says it there, unless a change of this page is still on its way.
import type { AppContext } from './context';
import { REPLAY_TIMEOUT_MS } from './outbox';

export class Availability {
  /** The value the server last confirmed (true: its default for a new account). */
  private confirmed = true;
  /** Number of the latest AVAILABILITY sent; only its refusal puts the checkbox back. */
  private latest = 0;
  private inFlight = 0;

  constructor(private readonly ctx: AppContext) {}

  /** The person flipped the checkbox. */
  set(available: boolean): void {
    const state = this.ctx.store.state;
    if (this.ctx.accountId() === null || available === state.available) return;
    state.available = available;
    const number = ++this.latest;
    this.inFlight += 1;
    // Setting the same value twice is harmless, so a request cut off by a drop is sent again.
    this.ctx.client
      .request('AVAILABILITY', { available }, { replay: true, timeoutMs: REPLAY_TIMEOUT_MS })
      .then(
        () => {
          this.confirmed = available;
        },
        (error: unknown) => {
          if (number === this.latest) state.available = this.confirmed;
          this.ctx.report(error);
        },
      )
      .finally(() => {
        this.inFlight -= 1;
      });
  }

  /** RECONNECT's `available` (absent from a version 1 server, which is always available). */
  fromServer(available: unknown): void {
    this.confirmed = typeof available === 'boolean' ? available : true;
    if (this.inFlight === 0) this.ctx.store.state.available = this.confirmed;
  }

  /** A new account, or none: the server's default again. */
  reset(): void {
    this.confirmed = true;
    this.latest += 1;
    this.ctx.store.state.available = true;
  }
}
