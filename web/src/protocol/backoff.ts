// Reconnect delays: exponential with a cap, jittered so that a broker restart is not met by every
// browser reconnecting in the same millisecond.

export interface BackoffPolicy {
  /** Delay before the first retry, in milliseconds. */
  initialMs: number;
  /** No delay ever exceeds this. */
  maxMs: number;
  factor: number;
  /** Fraction of the delay that is randomised: 0 = none, 0.5 = delay in [50%, 100%]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.5 };

/**
 * Delay before retry number `attempt` (0 for the first retry after a loss).
 *
 * `random` returns a number in [0, 1), like Math.random; it is a parameter so tests are exact.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.max(0, attempt);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}
