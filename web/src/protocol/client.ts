// One WebSocket to the broker, shared by every conversation: requests matched to responses by
// requestId, pushes handed to the application and acknowledged, and automatic reconnection with
// backoff. The socket comes from an injected factory, so this module runs without a browser.
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { Heartbeat } from './heartbeat';
import { SYSTEM_TIMERS, type Timers } from './timers';
import {
  ClientStoppedError,
  ConnectionLostError,
  NotConnectedError,
  RequestError,
  RequestTimeoutError,
} from './errors';
import type { Command, Push, RequestMap, Response, ResponseEnvelope } from './types';

export type { Timers } from './timers';

/** The part of the browser's WebSocket this client uses. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

/**
 * - `connecting`: first attempt, never online yet.
 * - `online`: socket open and the handshake (RECONNECT) done; requests flow.
 * - `reconnecting`: the connection was lost (or an attempt failed); retrying with backoff.
 * - `offline`: not trying: stopped, or the browser reports no network.
 */
export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface RequestOptions {
  /**
   * Re-send with the same requestId if the connection drops before the answer. Only for commands
   * the server makes idempotent per requestId (DIALOGUE) or that are harmless to repeat (HISTORY).
   */
  replay?: boolean;
  /** Best effort (TYPING, VIEWED_ACK): fail at once instead of waiting for a connection. */
  volatile?: boolean;
  /**
   * Give up on an answer this long after sending. A non-replayable request is rejected; a
   * replayable one is taken as a sign of a stuck connection: the socket is replaced and the request
   * re-sent after the next handshake. Default: wait as long as the connection lives.
   */
  timeoutMs?: number;
  /** Use this requestId (re-sending a message restored after a page reload). */
  requestId?: string;
}

/** What the handshake hook may do before the connection counts as online. */
export interface HandshakeContext {
  request<C extends Command>(cmd: C, fields: RequestMap[C]): Promise<Response<C>>;
}

export interface ProtocolClientOptions {
  url: string;
  socketFactory: SocketFactory;
  /** Called for every push before it is acknowledged; the ack follows even if this throws. */
  onPush: (push: Push) => void;
  /**
   * Runs on every new socket before queued requests are sent (binds the account with RECONNECT).
   * Throwing closes the socket and schedules another attempt.
   */
  handshake?: (context: HandshakeContext) => Promise<void>;
  onStateChange?: (state: ConnectionState) => void;
  /** Frames the client cannot attribute: `{cmd: "ERROR"}`, undecodable text. */
  onUnexpectedFrame?: (frame: unknown) => void;
  /** Errors thrown by onPush; they are reported, not rethrown, so one bad push can't wedge the socket. */
  onPushError?: (error: unknown, push: Push) => void;
  timers?: Timers;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** Send PING after this long without any frame from the server; 0 disables. */
  heartbeatIdleMs?: number;
  /** Drop the socket if the PING is not answered within this long. */
  heartbeatTimeoutMs?: number;
  /** Prefix of generated requestIds; unique per page load so restored ids never collide. */
  requestIdPrefix?: string;
  /**
   * Close codes after which the client must not reconnect by itself: the broker closes with 4000
   * when another connection (another tab) took the account over, and reconnecting would take it
   * back, forever. The client waits for reconnectNow() instead.
   */
  supersededCloseCodes?: readonly number[];
  /** The connection was closed with one of supersededCloseCodes. */
  onSuperseded?: (code: number, reason: string) => void;
}

/** See ProtocolClientOptions.supersededCloseCodes; 4000 = "account connected elsewhere". */
export const DEFAULT_SUPERSEDED_CLOSE_CODES: readonly number[] = [4000];

interface PendingRequest {
  cmd: Command;
  requestId: string;
  frame: string;
  replay: boolean;
  timeoutMs: number | undefined;
  /** Whether the frame went out on the current socket. */
  sent: boolean;
  /** Handshake requests belong to one socket and are never queued. */
  handshake: boolean;
  timer: unknown;
  resolve(response: ResponseEnvelope): void;
  reject(error: Error): void;
}

const PUSH_COMMANDS = new Set(['PUSH_DIALOGUE', 'PUSH_SIGNAL']);
/** The fields every response has; the rest of an error response goes into RequestError.details. */
const ENVELOPE_FIELDS = new Set(['cmd', 'requestId', 'code', 'msg']);

export class ProtocolClient {
  private readonly options: ProtocolClientOptions;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly idPrefix: string;
  private nextId = 1;

  private socket: SocketLike | null = null;
  private currentState: ConnectionState = 'offline';
  private running = false;
  private networkAvailable = true;
  /** Closed because another connection took the account: no automatic reconnection. */
  private superseded = false;
  /** Closed by hold(): no automatic reconnection either. */
  private held = false;
  private everOnline = false;
  private attempt = 0;
  private retryTimer: unknown = null;
  private readonly heartbeat: Heartbeat;

  constructor(options: ProtocolClientOptions) {
    this.options = options;
    this.timers = options.timers ?? SYSTEM_TIMERS;
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.idPrefix = options.requestIdPrefix ?? randomPrefix(this.random);
    this.heartbeat = new Heartbeat(
      this.timers,
      options.heartbeatIdleMs ?? 25_000,
      options.heartbeatTimeoutMs ?? 10_000,
      () => this.request('PING', {}, { volatile: true }),
      () => this.forceReconnect(),
    );
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Open the connection and keep it open until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.superseded = false;
    this.held = false;
    this.everOnline = false;
    this.attempt = 0;
    this.setState('connecting');
    this.connect();
  }

  /** Close for good: outstanding requests are rejected, nothing is retried. */
  stop(): void {
    this.running = false;
    this.cancelRetry();
    this.heartbeat.stop();
    this.dropSocket();
    for (const request of [...this.pending.values()]) {
      this.settle(request.requestId)?.reject(new ClientStoppedError(request.cmd));
    }
    this.setState('offline');
  }

  /**
   * Skip the remaining backoff wait (the browser regained network), or resume after the account
   * was taken over by another connection or after hold() (the person asked to try again).
   */
  reconnectNow(): void {
    if (!this.running || this.socket !== null || !this.networkAvailable) return;
    this.superseded = false;
    this.held = false;
    this.cancelRetry();
    this.setState(this.everOnline ? 'reconnecting' : 'connecting');
    this.connect();
  }

  /** Whether the connection was taken over by another one and waits for reconnectNow(). */
  get isSuperseded(): boolean {
    return this.superseded;
  }

  /**
   * Close the connection and stay offline until reconnectNow(): retrying by itself would only
   * repeat a refusal that time alone does not lift (the account is banned). Queued requests wait.
   * May be called from the handshake, which then ends without the connection going online.
   */
  hold(): void {
    if (!this.running) return;
    this.held = true;
    this.cancelRetry();
    if (this.socket !== null) {
      this.dropSocket();
      this.lost();
    }
    this.setState('offline');
  }

  /** Whether hold() stopped the connection and it waits for reconnectNow(). */
  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Drop the current socket and go through reconnection (the server no longer recognises this
   * connection's account, for instance). Replayable requests are re-sent on the next socket.
   */
  forceReconnect(): void {
    if (!this.running || this.socket === null) return;
    this.dropSocket();
    this.lost();
  }

  /** Follow the browser's online/offline events: no attempts while it reports no network. */
  setNetworkAvailable(available: boolean): void {
    if (this.networkAvailable === available) return;
    this.networkAvailable = available;
    if (!this.running) return;
    if (!available) {
      // An open socket is as good as dead without a network, but may take the heartbeat's full
      // timeout to notice; closing it now shows "offline" at once and resumes cleanly later.
      this.cancelRetry();
      if (this.socket !== null) {
        this.dropSocket();
        this.lost();
      }
      this.setState('offline');
    } else if (this.socket === null && !this.superseded && !this.held) {
      this.reconnectNow();
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  /** A fresh requestId, unique within this page load and across reloads. */
  newRequestId(): string {
    return `${this.idPrefix}-${(this.nextId++).toString(36)}`;
  }

  /**
   * Send a request and resolve with its success response; reject with RequestError on a non-zero
   * code. While the connection is down the request waits (unless `volatile`) and goes out once the
   * handshake of the next connection is done.
   */
  request<C extends Command>(
    cmd: C,
    fields: RequestMap[C],
    options: RequestOptions = {},
  ): Promise<Response<C>> {
    if (!this.running) return Promise.reject(new ClientStoppedError(cmd));
    if (options.volatile && this.currentState !== 'online') {
      return Promise.reject(new NotConnectedError(cmd));
    }
    return this.enqueue(cmd, fields, options, false);
  }

  private enqueue<C extends Command>(
    cmd: C,
    fields: RequestMap[C],
    options: RequestOptions,
    handshake: boolean,
  ): Promise<Response<C>> {
    const requestId = options.requestId ?? this.newRequestId();
    const existing = this.pending.get(requestId);
    if (existing) {
      // Same requestId already outstanding: share its answer rather than sending it twice.
      return new Promise((resolve, reject) => {
        const { resolve: first, reject: firstReject } = existing;
        existing.resolve = (response) => {
          first(response);
          resolve(response as Response<C>);
        };
        existing.reject = (error) => {
          firstReject(error);
          reject(error);
        };
      });
    }
    return new Promise<Response<C>>((resolve, reject) => {
      const request: PendingRequest = {
        cmd,
        requestId,
        frame: JSON.stringify({ ...fields, cmd, requestId }),
        replay: options.replay ?? false,
        timeoutMs: options.timeoutMs,
        sent: false,
        handshake,
        timer: null,
        resolve: (response) => resolve(response as Response<C>),
        reject,
      };
      this.pending.set(requestId, request);
      if (handshake || this.currentState === 'online') this.transmit(request);
    });
  }

  private transmit(request: PendingRequest): void {
    const socket = this.socket;
    if (socket === null) return;
    try {
      socket.send(request.frame);
    } catch {
      // The socket is closing; its close event requeues or rejects this request.
      return;
    }
    request.sent = true;
    if (request.timeoutMs === undefined) return;
    const timeoutMs = request.timeoutMs;
    if (request.timer !== null) this.timers.clearTimeout(request.timer);
    request.timer = this.timers.setTimeout(() => {
      request.timer = null;
      if (!request.replay) {
        this.settle(request.requestId)?.reject(new RequestTimeoutError(request.cmd, timeoutMs));
      } else if (this.socket === socket && this.pending.get(request.requestId) === request) {
        // A replayable request without an answer: the connection is presumed stuck. Replace it;
        // the request goes out again, same requestId, after the next handshake.
        this.forceReconnect();
      }
    }, timeoutMs);
  }

  /** Remove a pending request (clearing its timer) and return it, or undefined if already gone. */
  private settle(requestId: string): PendingRequest | undefined {
    const request = this.pending.get(requestId);
    if (!request) return undefined;
    this.pending.delete(requestId);
    if (request.timer !== null) this.timers.clearTimeout(request.timer);
    return request;
  }

  // ---- socket events --------------------------------------------------------------------------

  private connect(): void {
    this.retryTimer = null;
    let socket: SocketLike;
    try {
      socket = this.options.socketFactory(this.options.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket === socket) void this.runHandshake(socket);
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      const supersededCodes = this.options.supersededCloseCodes ?? DEFAULT_SUPERSEDED_CLOSE_CODES;
      if (supersededCodes.includes(event.code)) {
        this.superseded = true;
        this.lost();
        this.options.onSuperseded?.(event.code, event.reason);
      } else {
        this.lost();
      }
    };
    // A failed connection also fires close; nothing more to do on error.
    socket.onerror = () => undefined;
  }

  private async runHandshake(socket: SocketLike): Promise<void> {
    try {
      if (this.options.handshake) {
        await this.options.handshake({
          // Bound to this socket: a handshake step must never leak onto the next connection.
          request: (cmd, fields) =>
            this.socket === socket
              ? this.enqueue(cmd, fields, {}, true)
              : Promise.reject(new ConnectionLostError(cmd)),
        });
      }
    } catch {
      // The socket may be fine while the handshake is not (an internal error): start over.
      if (this.socket === socket) {
        this.dropSocket();
        this.lost();
      }
      return;
    }
    if (this.socket !== socket || !this.running) return;
    this.attempt = 0;
    this.everOnline = true;
    this.setState('online');
    this.heartbeat.alive();
    // Requests made while offline, and replayable ones cut off by the drop, in their original order.
    for (const request of this.pending.values()) {
      if (!request.sent && !request.handshake) this.transmit(request);
    }
  }

  private receive(data: unknown): void {
    if (this.currentState === 'online') this.heartbeat.alive();
    let frame: unknown;
    try {
      frame = typeof data === 'string' ? JSON.parse(data) : undefined;
    } catch {
      frame = undefined;
    }
    if (!isObject(frame) || typeof frame.cmd !== 'string') {
      this.options.onUnexpectedFrame?.(data);
      return;
    }
    if (PUSH_COMMANDS.has(frame.cmd) && frame.code === undefined) {
      this.deliverPush(frame as unknown as Push);
      return;
    }
    const request = typeof frame.requestId === 'string' ? this.settle(frame.requestId) : undefined;
    if (!request) {
      // A late answer to a timed-out request is harmless; anything else is worth reporting.
      if (typeof frame.requestId !== 'string') this.options.onUnexpectedFrame?.(frame);
      return;
    }
    const response = frame as unknown as ResponseEnvelope;
    if (response.code === 0) {
      request.resolve(response);
      return;
    }
    const details: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(frame)) {
      if (!ENVELOPE_FIELDS.has(name)) details[name] = value;
    }
    const msg = typeof frame.msg === 'string' ? frame.msg : undefined;
    request.reject(new RequestError(request.cmd, Number(frame.code), msg, details));
  }

  private deliverPush(push: Push): void {
    try {
      this.options.onPush(push);
    } catch (error) {
      this.options.onPushError?.(error, push);
    }
    // Acknowledge even if handling failed: an unacked push comes back on every reconnect forever.
    const ack =
      push.cmd === 'PUSH_DIALOGUE'
        ? { cmd: push.cmd, code: 0, sessionId: push.sessionId, msgId: push.msgId }
        : { cmd: push.cmd, code: 0, sessionId: push.sessionId, signalType: push.signalType };
    try {
      this.socket?.send(JSON.stringify(ack));
    } catch {
      // Lost with the socket: the server re-sends unacknowledged pushes after RECONNECT.
    }
  }

  /** The current socket is gone: requeue or fail its requests and plan the next attempt. */
  private lost(): void {
    this.socket = null;
    this.heartbeat.stop();
    for (const request of [...this.pending.values()]) {
      if (request.handshake || (request.sent && !request.replay)) {
        this.settle(request.requestId)?.reject(new ConnectionLostError(request.cmd));
      } else if (request.sent) {
        request.sent = false;
      }
    }
    if (!this.running) return;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.socket = null;
    if (!this.networkAvailable || this.superseded || this.held) {
      this.cancelRetry();
      this.setState('offline');
      return;
    }
    this.setState(this.everOnline ? 'reconnecting' : 'connecting');
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt += 1;
    this.cancelRetry();
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Detach and close the current socket without waiting for its close event. */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      socket.close(1000, 'client closing');
    } catch {
      // Already closed.
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.options.onStateChange?.(state);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function randomPrefix(random: () => number): string {
  const bytes = new Uint8Array(8);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The broker's WebSocket URL for a page served from `location` (same origin, path /ws). */
export function brokerUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
