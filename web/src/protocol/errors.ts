// Errors a request promise can be rejected with, and short human wording for protocol codes.
import { Code } from './types';

/** The server answered with a non-zero code. */
export class RequestError extends Error {
  readonly cmd: string;
  readonly code: number;
  readonly serverMsg: string;
  /** Further fields of the error response (MATCH's `online` on code 4, for instance). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    cmd: string,
    code: number,
    serverMsg: string | undefined,
    details: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${cmd} failed with code ${code}${serverMsg ? `: ${serverMsg}` : ''}`);
    this.name = 'RequestError';
    this.cmd = cmd;
    this.code = code;
    this.serverMsg = serverMsg ?? '';
    this.details = details;
  }
}

/** The connection dropped after the request was sent and the request is not safe to repeat. */
export class ConnectionLostError extends Error {
  constructor(readonly cmd: string) {
    super(`Connection lost before ${cmd} was answered`);
    this.name = 'ConnectionLostError';
  }
}

/** A best-effort request (typing, viewed) was made while there was no connection to carry it. */
export class NotConnectedError extends Error {
  constructor(readonly cmd: string) {
    super(`Not connected: ${cmd} was not sent`);
    this.name = 'NotConnectedError';
  }
}

export class RequestTimeoutError extends Error {
  constructor(readonly cmd: string, readonly timeoutMs: number) {
    super(`${cmd} got no answer within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'RequestTimeoutError';
  }
}

/** The client was stopped (log out, page teardown) while the request was outstanding. */
export class ClientStoppedError extends Error {
  constructor(readonly cmd: string) {
    super(`${cmd} cancelled: the connection was closed`);
    this.name = 'ClientStoppedError';
  }
}

const CODE_TEXT: Record<number, string> = {
  [Code.PARAM_ERR]: 'The server rejected that request as malformed.',
  [Code.INTERNAL_ERR]: 'The server had a problem. Please try again.',
  [Code.UNKNOWN_CMD]: 'The server does not understand this client. Please reload the page.',
  [Code.NOT_FOUND]: 'Not found.',
  [Code.UNAUTHORIZED]: 'You are signed out. Please choose a nickname again.',
  [Code.FORBIDDEN]: 'That is not allowed.',
  [Code.SESSION_CLOSED]: 'This conversation has ended.',
  [Code.RATE_LIMITED]: 'Slow down a little: too many requests. Try again in a moment.',
  [Code.TOO_LARGE]: 'That message is too long to send.',
  [Code.BANNED]: 'You are suspended or banned by the moderators.',
};

/** Commands of protocol 1.1: a version 1 server answers them with code 3. */
const NEWER_COMMANDS = new Set(['CANCEL_MATCH', 'AVAILABILITY', 'REPORT', 'BLOCK']);

/** A short sentence for a person, for any error a request can end with. */
export function describeError(error: unknown): string {
  if (error instanceof RequestError) {
    // The moderators' own words (until when, if the ban ends), shown as they are.
    if (error.code === Code.BANNED && error.serverMsg) return error.serverMsg;
    if (error.code === Code.UNKNOWN_CMD && NEWER_COMMANDS.has(error.cmd)) {
      return 'This server does not support that yet.';
    }
    if (error.cmd === 'DIALOGUE' && error.code === Code.RATE_LIMITED) {
      // Also the answer when the partner has too many unread messages.
      return (
        'Not sent: you are writing too fast, or your partner has not read your last messages ' +
        'yet. Your text is back in the box.'
      );
    }
    if (error.cmd === 'DIALOGUE' && error.code === Code.TOO_LARGE) {
      return 'Not sent: the message is longer than the server takes. Your text is back in the box.';
    }
    if (error.cmd === 'MATCH' && error.code === Code.NOT_FOUND) {
      return 'Nobody is available to chat right now. Try again in a moment.';
    }
    if (error.cmd === 'MATCH' && error.code === Code.RATE_LIMITED) {
      // MATCH answers 8 both for the per-account session cap and for plain rate limiting.
      return 'Too many conversations open, or too many requests: leave a conversation or wait a moment.';
    }
    if (error.code === Code.PARAM_ERR && error.serverMsg) {
      return `Rejected: ${error.serverMsg}`;
    }
    return CODE_TEXT[error.code] ?? `The server refused (code ${error.code}).`;
  }
  if (error instanceof ConnectionLostError) {
    return 'The connection dropped before the server answered. Please try again.';
  }
  if (error instanceof NotConnectedError) return 'Not connected right now.';
  if (error instanceof RequestTimeoutError) return 'The server took too long to answer. Please try again.';
  if (error instanceof ClientStoppedError) return 'Cancelled.';
  if (error instanceof Error) return error.message;
  return String(error);
}
