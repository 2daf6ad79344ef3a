// Liveness of the connection as the page sees it. The broker pings at the WebSocket level, but a
// browser cannot see those; a PING after a quiet spell tells this side that a half-open connection
// (laptop sleep, NAT timeout) is dead, long before TCP would.
import type { Timers } from './timers';

export class Heartbeat {
  private idleTimer: unknown = null;
  private deadline: unknown = null;

  /**
   * @param idleMs  probe after this long without traffic; 0 disables the heartbeat
   * @param timeoutMs  declare the connection dead if the probe is unanswered this long
   * @param probe  sends the probe (PING) and settles when it is answered or fails
   * @param dead  called once when a probe times out
   */
  constructor(
    private readonly timers: Timers,
    private readonly idleMs: number,
    private readonly timeoutMs: number,
    private readonly probe: () => Promise<unknown>,
    private readonly dead: () => void,
  ) {}

  /** Traffic arrived (or the connection just came up): restart the quiet-spell countdown. */
  alive(): void {
    if (this.idleMs <= 0) return;
    if (this.idleTimer !== null) this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = this.timers.setTimeout(() => this.fire(), this.idleMs);
  }

  stop(): void {
    if (this.idleTimer !== null) this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.clearDeadline();
  }

  private fire(): void {
    this.idleTimer = null;
    this.clearDeadline();
    this.deadline = this.timers.setTimeout(() => {
      this.deadline = null;
      this.dead();
    }, this.timeoutMs);
    const settle = () => this.clearDeadline();
    this.probe().then(settle, settle);
  }

  private clearDeadline(): void {
    if (this.deadline !== null) this.timers.clearTimeout(this.deadline);
    this.deadline = null;
  }
}
