// The application's use cases (start, match, send, leave, log out) and the protocol rules that tie
// the socket to the store: RECONNECT on every new connection, history catch-up, acks of what the
// person has seen, typing throttles, and restoring unsent messages after a refresh. No DOM: the view
// reports visibility and input through plain method calls.
import {
  ProtocolClient,
  type HandshakeContext,
  type SocketFactory,
  type Timers,
} from '../protocol/client';
import type { BackoffPolicy } from '../protocol/backoff';
import { ClientStoppedError, describeError, RequestError } from '../protocol/errors';
import { Code, type Push, type SignalPush } from '../protocol/types';
import { canSend, ChatStore, sessionKey, type ChatSession, type ChatState } from '../store/chat';
import { NoticeBoard } from '../store/notices';
import {
  ClientPersistence,
  type Credentials,
  type KeyValueStorage,
  type OutboxEntry,
} from '../store/persistence';

/** Largest page the protocol allows; a shorter page means the history is complete. */
export const HISTORY_PAGE = 200;
/** Send TYPING at most this often per conversation. */
export const TYPING_THROTTLE_MS = 2_000;
/** Show the partner as typing this long after their last Typing signal. */
export const TYPING_SHOWN_MS = 3_000;
/** MATCH may wait for a partner on the server (its --match-wait); give up well after that. */
export const MATCH_TIMEOUT_MS = 60_000;
export const ACCOUNT_TIMEOUT_MS = 15_000;
export const LOGOUT_TIMEOUT_MS = 5_000;
/**
 * DIALOGUE, HISTORY and LEAVE unanswered this long mean a stuck connection: it is replaced and
 * they are re-sent with the same requestId (the server's advice for lost requests).
 */
export const REPLAY_TIMEOUT_MS = 15_000;
/**
 * After a code 5 on a bound connection, wait this long for the close that usually follows (4000:
 * another tab took the account) before concluding the binding was lost and reconnecting.
 */
export const REBIND_DELAY_MS = 1_000;
export const NICKNAME_MAX = 32;
/** Shown for a conversation whose partner name this page never learned (a push before NewSession). */
const UNKNOWN_PARTNER = 'Stranger';

export interface ControllerOptions {
  url: string;
  socketFactory: SocketFactory;
  storage: KeyValueStorage;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  backoff?: BackoffPolicy;
  heartbeatIdleMs?: number;
  heartbeatTimeoutMs?: number;
  /** Diagnostics that are not the person's business (unexpected frames, handler bugs). */
  log?: (message: string, detail?: unknown) => void;
}

/** Why a nickname cannot be used, or null if it can (the server checks the same rules). */
export function nicknameProblem(raw: string): string | null {
  const nick = raw.trim();
  if (nick.length === 0) return 'Please enter a nickname.';
  if ([...nick].length > NICKNAME_MAX) return `A nickname has at most ${NICKNAME_MAX} characters.`;
  // The server refuses control, format and line/paragraph separator characters.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(nick)) return 'A nickname cannot contain control characters.';
  return null;
}

/** Whether a failed DIALOGUE may succeed if sent again unchanged. */
function isRetryable(error: unknown): boolean {
  if (!(error instanceof RequestError)) return true; // timeouts, lost connections
  return error.code === Code.RATE_LIMITED || error.code === Code.INTERNAL_ERR;
}

export class ChatController {
  readonly store = new ChatStore();
  readonly notices: NoticeBoard;
  readonly client: ProtocolClient;

  private readonly persistence: ClientPersistence;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly log: (message: string, detail?: unknown) => void;
  private credentials: Credentials | null;
  /** Own messages sent but not yet confirmed, by requestId (mirrored to storage). */
  private readonly outbox = new Map<string, OutboxEntry>();
  /** Outbox entries from before a refresh, waiting for the first RECONNECT to name their sessions. */
  private restoredOutbox: OutboxEntry[];
  /** Highest partner msgId seen per session, persisted so unread counts survive a refresh. */
  private readonly viewed: Map<string, number>;
  /** Highest own msgId the partner has seen per session (ViewedAck), persisted for refreshes. */
  private readonly seen: Map<string, number>;
  /** Highest msgId acknowledged with VIEWED_ACK per session, to re-send what a drop swallowed. */
  private readonly viewedAcked = new Map<string, number>();
  private readonly typingSentAt = new Map<string, number>();
  private readonly typingTimers = new Map<string, unknown>();
  private readonly historyLoads = new Map<string, Promise<void>>();
  /** Sessions this person left: late pushes for them must not reopen a window. */
  private readonly left = new Set<string>();
  /** Messages refused with code 5 (the binding was lost): sent again once the account is bound. */
  private rebindQueue: OutboxEntry[] = [];
  private rebindTimer: unknown = null;

  constructor(options: ControllerOptions) {
    this.timers = options.timers ?? {
      setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
      clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.notices = new NoticeBoard(this.timers);
    this.persistence = new ClientPersistence(options.storage);
    this.credentials = this.persistence.loadCredentials();
    this.restoredOutbox = this.credentials ? this.persistence.loadOutbox() : [];
    this.viewed = this.credentials ? this.persistence.loadViewed() : new Map();
    this.seen = this.credentials ? this.persistence.loadSeen() : new Map();
    if (this.credentials) {
      // Show the chat screen at once on a refresh; the conversations follow after RECONNECT.
      this.store.setAccount({
        accountId: this.credentials.accountId,
        nickName: this.credentials.nickName,
      });
    }
    this.client = new ProtocolClient({
      url: options.url,
      socketFactory: options.socketFactory,
      timers: this.timers,
      ...(options.random ? { random: options.random } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.heartbeatIdleMs !== undefined ? { heartbeatIdleMs: options.heartbeatIdleMs } : {}),
      ...(options.heartbeatTimeoutMs !== undefined
        ? { heartbeatTimeoutMs: options.heartbeatTimeoutMs }
        : {}),
      handshake: (context) => this.handshake(context),
      onPush: (push) => this.onPush(push),
      onStateChange: (state) => {
        this.store.setConnection(state);
        if (state === 'online') this.onBound();
      },
      onSuperseded: () => {
        this.state.superseded = true;
      },
      onUnexpectedFrame: (frame) => this.log('unexpected frame from the server', frame),
      onPushError: (error, push) => this.log('failed to handle a push', { error, push }),
    });
  }

  get state(): ChatState {
    return this.store.state;
  }

  start(): void {
    this.client.start();
  }

  /** Take the account back after another tab or window took it over. */
  resume(): void {
    if (!this.state.superseded) return;
    this.state.superseded = false;
    this.client.reconnectNow();
  }

  /** The connection is online and bound again: re-send what it could not carry before. */
  private onBound(): void {
    const queued = this.rebindQueue;
    this.rebindQueue = [];
    for (const entry of queued) {
      if (this.outbox.has(entry.requestId)) this.dispatch(entry);
    }
    this.resendViewedAcks();
  }

  stop(): void {
    this.client.stop();
    for (const handle of this.typingTimers.values()) this.timers.clearTimeout(handle);
    this.typingTimers.clear();
    this.notices.clear();
  }

  // ---- account --------------------------------------------------------------------------------

  /** CRT_ACCOUNT; resolves true once the account exists and is stored for refreshes. */
  async createAccount(rawNick: string): Promise<boolean> {
    const problem = nicknameProblem(rawNick);
    if (problem) {
      this.notices.show(problem);
      return false;
    }
    if (this.state.creatingAccount || this.credentials) return false;
    this.state.creatingAccount = true;
    try {
      const response = await this.client.request(
        'CRT_ACCOUNT',
        { nickName: rawNick.trim() },
        { timeoutMs: ACCOUNT_TIMEOUT_MS },
      );
      this.credentials = {
        accountId: response.accountId,
        token: response.token,
        nickName: response.nickName,
      };
      this.persistence.saveCredentials(this.credentials);
      this.store.setAccount({ accountId: response.accountId, nickName: response.nickName });
      return true;
    } catch (error) {
      this.report(error);
      return false;
    } finally {
      this.state.creatingAccount = false;
    }
  }

  /** LOGOUT: every conversation ends for the partners too; this tab returns to the nickname screen. */
  async logout(): Promise<void> {
    const credentials = this.credentials;
    if (!credentials) return;
    let confirmed = true;
    try {
      await this.client.request(
        'LOGOUT',
        { accountId: credentials.accountId },
        { timeoutMs: LOGOUT_TIMEOUT_MS },
      );
    } catch (error) {
      // Still log out here: the server ends the account once its offline grace runs out.
      confirmed = error instanceof RequestError && error.code === Code.UNAUTHORIZED;
    }
    this.forgetAccount();
    // A fresh connection: the old one stays bound to the account that just logged out.
    this.client.stop();
    this.client.start();
    this.notices.show(
      confirmed
        ? 'You logged out. Your chats have ended.'
        : 'Logged out on this device. The server will end your chats shortly.',
      'info',
    );
  }

  private forgetAccount(): void {
    this.credentials = null;
    this.outbox.clear();
    this.restoredOutbox = [];
    this.viewed.clear();
    this.seen.clear();
    this.viewedAcked.clear();
    this.typingSentAt.clear();
    this.historyLoads.clear();
    this.left.clear();
    this.rebindQueue = [];
    for (const handle of this.typingTimers.values()) this.timers.clearTimeout(handle);
    this.typingTimers.clear();
    this.persistence.clear();
    this.store.setAccount(null);
  }

  // ---- connection handshake -------------------------------------------------------------------

  /** Runs on every new socket: bind the account, reopen its sessions, catch up on history. */
  private async handshake(context: HandshakeContext): Promise<void> {
    const credentials = this.credentials;
    if (!credentials) return;
    let response;
    try {
      response = await context.request('RECONNECT', {
        accountId: credentials.accountId,
        token: credentials.token,
      });
    } catch (error) {
      if (
        error instanceof RequestError &&
        (error.code === Code.UNAUTHORIZED || error.code === Code.NOT_FOUND)
      ) {
        this.forgetAccount();
        this.notices.show(
          'Your chat session has expired (away too long or logged out elsewhere). Pick a nickname to start again.',
          'error',
        );
        return;
      }
      throw error;
    }
    if (this.credentials !== credentials) return;
    this.credentials = { ...credentials, nickName: response.nickName };
    this.persistence.saveCredentials(this.credentials);
    this.store.setAccount({ accountId: response.accountId, nickName: response.nickName });

    const open = new Set<string>();
    for (const summary of response.sessions) {
      const key = sessionKey(summary.sessionId);
      open.add(key);
      this.left.delete(key);
      const viewedUpTo = this.viewed.get(key) ?? 0;
      // What was seen before a refresh was acknowledged then; do not repeat it.
      if (viewedUpTo > (this.viewedAcked.get(key) ?? 0)) this.viewedAcked.set(key, viewedUpTo);
      this.store.openSession(summary, { viewedUpTo });
      this.store.markPartnerSeen(key, this.seen.get(key) ?? 0);
    }
    // A window the server no longer lists ended while this page was away.
    for (const session of this.state.sessions) {
      if (!open.has(session.key) && !session.ended) this.store.markEnded(session.key, 'closed');
    }
    this.restoreOutbox(open);
    // Queued now, sent right after the handshake (after any re-sent messages, so a message stored
    // before a refresh is confirmed by its DIALOGUE answer before history could show it again).
    for (const key of open) void this.loadHistory(key);
  }

  private restoreOutbox(open: Set<string>): void {
    const entries = this.restoredOutbox;
    this.restoredOutbox = [];
    for (const entry of entries) {
      const key = sessionKey(entry.sessionId);
      if (!open.has(key)) continue;
      this.store.addPending(key, entry.requestId, entry.content, entry.createdAt);
      this.outbox.set(entry.requestId, entry);
      this.dispatch(entry);
    }
    this.saveOutbox();
  }

  /** HISTORY pages after what this window already holds, until a page comes back short. */
  loadHistory(key: string): Promise<void> {
    const running = this.historyLoads.get(key);
    if (running) return running;
    const load = this.fetchHistory(key).finally(() => this.historyLoads.delete(key));
    this.historyLoads.set(key, load);
    return load;
  }

  private async fetchHistory(key: string): Promise<void> {
    const session = this.store.session(key);
    if (!session) return;
    const sessionId = session.sessionId;
    let after = this.store.historyCursor(key);
    try {
      for (;;) {
        const page = await this.client.request(
          'HISTORY',
          { sessionId, afterMsgId: after, limit: HISTORY_PAGE },
          { replay: true, timeoutMs: REPLAY_TIMEOUT_MS },
        );
        const messages = Array.isArray(page.messages) ? page.messages : [];
        for (const message of messages) this.store.addStored(key, message);
        if (messages.length < HISTORY_PAGE) break;
        const last = messages[messages.length - 1]!.msgId;
        if (!(last > after)) break; // a server that does not advance must not loop us forever
        after = last;
      }
    } catch (error) {
      if (error instanceof ClientStoppedError) return;
      if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
        this.store.markEnded(key, 'closed');
        return;
      }
      this.report(error);
      return;
    }
    this.ackViewedIfSeen(key);
  }

  // ---- pushes ---------------------------------------------------------------------------------

  private onPush(push: Push): void {
    const key = sessionKey(push.sessionId);
    if (push.cmd === 'PUSH_DIALOGUE') {
      if (this.left.has(key) || !this.credentials) return;
      const session =
        this.store.session(key) ??
        this.store.openSession({
          sessionId: push.sessionId,
          partnerId: push.senderId,
          partnerName: UNKNOWN_PARTNER,
        });
      const added = this.store.addStored(session.key, {
        msgId: push.msgId,
        senderId: push.senderId,
        content: push.content,
        createdAt: push.createdAt,
      });
      if (added && push.senderId !== this.credentials.accountId) {
        this.stopPartnerTyping(key);
        this.ackViewedIfSeen(key);
      }
      return;
    }
    this.onSignal(push, key);
  }

  private onSignal(signal: SignalPush, key: string): void {
    if (!this.credentials || this.left.has(key)) return;
    const data = (signal.data ?? {}) as Record<string, unknown>;
    switch (signal.signalType) {
      case 'NewSession': {
        const partnerName = typeof data.nickName === 'string' ? data.nickName : UNKNOWN_PARTNER;
        const partnerId = typeof data.accountId === 'number' ? data.accountId : signal.senderId;
        this.store.openSession({ sessionId: signal.sessionId, partnerId, partnerName });
        return;
      }
      case 'PartnerExit': {
        const session = this.store.session(key);
        if (!session || session.ended === 'partner-left') return;
        this.stopPartnerTyping(key);
        this.store.markEnded(key, 'partner-left');
        if (!this.store.isSeenNow(session)) {
          this.notices.show(`${session.partnerName} left the chat.`, 'info');
        }
        return;
      }
      case 'ViewedAck': {
        const msgId = data.msgId;
        if (typeof msgId !== 'number' || msgId <= (this.seen.get(key) ?? 0)) return;
        this.store.markPartnerSeen(key, msgId);
        this.seen.set(key, msgId);
        this.persistence.saveSeen(this.seen);
        return;
      }
      case 'Typing':
        this.showPartnerTyping(key);
        return;
      default:
        // Newer servers may add signals; they were acknowledged and are otherwise ignored.
        return;
    }
  }

  private showPartnerTyping(key: string): void {
    if (!this.store.session(key)) return;
    this.store.setPartnerTyping(key, true);
    const previous = this.typingTimers.get(key);
    if (previous !== undefined) this.timers.clearTimeout(previous);
    this.typingTimers.set(
      key,
      this.timers.setTimeout(() => this.stopPartnerTyping(key), TYPING_SHOWN_MS),
    );
  }

  private stopPartnerTyping(key: string): void {
    const handle = this.typingTimers.get(key);
    if (handle !== undefined) this.timers.clearTimeout(handle);
    this.typingTimers.delete(key);
    this.store.setPartnerTyping(key, false);
  }

  // ---- conversations --------------------------------------------------------------------------

  /** MATCH: a new window with a new partner, or a notice saying why not. */
  async match(): Promise<void> {
    const credentials = this.credentials;
    if (!credentials) return;
    this.state.matchesInFlight += 1;
    try {
      const response = await this.client.request(
        'MATCH',
        { accountId: credentials.accountId },
        { timeoutMs: MATCH_TIMEOUT_MS },
      );
      if (this.credentials !== credentials) return;
      const key = sessionKey(response.sessionId);
      this.left.delete(key);
      this.store.openSession(
        {
          sessionId: response.sessionId,
          partnerId: response.partnerId,
          partnerName: response.partnerName,
        },
        { activate: true },
      );
      this.state.focusKey = key;
    } catch (error) {
      this.report(error);
    } finally {
      if (this.state.matchesInFlight > 0) this.state.matchesInFlight -= 1;
    }
  }

  /** Send a message typed in a window; false if there was nothing to send or it cannot be sent. */
  send(key: string, text: string): boolean {
    const session = this.store.session(key);
    const credentials = this.credentials;
    // Drop blank lines around the text and trailing spaces, but keep a first line's indentation.
    const content = text.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd();
    if (!session || !credentials || content.trim() === '' || !canSend(session)) return false;
    const entry: OutboxEntry = {
      requestId: this.client.newRequestId(),
      sessionId: session.sessionId,
      content,
      createdAt: this.now(),
    };
    this.store.addPending(key, entry.requestId, entry.content, entry.createdAt);
    this.outbox.set(entry.requestId, entry);
    this.saveOutbox();
    // The person wrote, so they are not typing any more; let the next keystroke signal again.
    this.typingSentAt.delete(key);
    this.dispatch(entry);
    return true;
  }

  /** Send a failed message again under its original requestId, so it is stored at most once. */
  retry(key: string, requestId: string): void {
    const message = this.store.findByRequest(key, requestId);
    const session = this.store.session(key);
    if (!message || !session || message.status !== 'failed' || !message.retryable) return;
    if (!canSend(session)) return;
    const entry: OutboxEntry = {
      requestId,
      sessionId: session.sessionId,
      content: message.content,
      createdAt: message.createdAt,
    };
    this.store.markRetrying(key, requestId);
    this.outbox.set(requestId, entry);
    this.saveOutbox();
    this.dispatch(entry);
  }

  discard(key: string, requestId: string): void {
    this.store.discard(key, requestId);
    this.outbox.delete(requestId);
    this.saveOutbox();
  }

  private dispatch(entry: OutboxEntry): void {
    const credentials = this.credentials;
    if (!credentials) return;
    const key = sessionKey(entry.sessionId);
    this.client
      .request(
        'DIALOGUE',
        { senderId: credentials.accountId, sessionId: entry.sessionId, content: entry.content },
        { replay: true, requestId: entry.requestId, timeoutMs: REPLAY_TIMEOUT_MS },
      )
      .then(
        (response) => {
          this.outbox.delete(entry.requestId);
          this.saveOutbox();
          this.store.markSent(key, entry.requestId, response.msgId);
        },
        (error: unknown) => {
          if (error instanceof ClientStoppedError) return; // logged out: nothing left to show
          if (error instanceof RequestError && error.code === Code.UNAUTHORIZED) {
            // Not refused, just not bound right now (another tab took over): keep it pending.
            this.rebindQueue.push(entry);
            this.report(error);
            return;
          }
          this.outbox.delete(entry.requestId);
          this.saveOutbox();
          if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
            this.store.markEnded(key, 'closed');
          }
          this.store.markFailed(key, entry.requestId, describeError(error), isRetryable(error));
          this.report(error);
        },
      );
  }

  /** Input activity in a window: tell the partner, at most once per TYPING_THROTTLE_MS. */
  typing(key: string, text: string): void {
    const session = this.store.session(key);
    if (!session || !canSend(session) || text.trim() === '') return;
    const now = this.now();
    const last = this.typingSentAt.get(key);
    if (last !== undefined && now - last < TYPING_THROTTLE_MS) return;
    this.typingSentAt.set(key, now);
    this.client.request('TYPING', { sessionId: session.sessionId }, { volatile: true }).catch(
      (error: unknown) => {
        if (error instanceof RequestError && error.code === Code.SESSION_CLOSED) {
          this.store.markEnded(key, 'closed');
        }
        // Otherwise a lost typing hint is not worth the person's attention.
      },
    );
  }

  /** Leave a conversation (LEAVE), or close the window of one that already ended. */
  async leave(key: string): Promise<void> {
    const session = this.store.session(key);
    if (!session || session.leaving) return;
    if (session.ended) {
      this.closeWindow(key);
      return;
    }
    session.leaving = true;
    this.left.add(key);
    try {
      await this.client.request(
        'LEAVE',
        { sessionId: session.sessionId },
        { replay: true, timeoutMs: REPLAY_TIMEOUT_MS },
      );
    } catch (error) {
      const alreadyOver = error instanceof RequestError && error.code === Code.SESSION_CLOSED;
      if (!alreadyOver && !(error instanceof ClientStoppedError)) {
        this.left.delete(key);
        session.leaving = false;
        this.report(error);
        return;
      }
    }
    this.closeWindow(key);
  }

  private closeWindow(key: string): void {
    this.stopPartnerTyping(key);
    this.left.add(key);
    this.store.removeSession(key);
    this.viewed.delete(key);
    this.seen.delete(key);
    this.viewedAcked.delete(key);
    this.typingSentAt.delete(key);
    this.persistence.saveViewed(this.viewed);
    this.persistence.saveSeen(this.seen);
    for (const [requestId, entry] of this.outbox) {
      if (sessionKey(entry.sessionId) === key) this.outbox.delete(requestId);
    }
    this.saveOutbox();
  }

  // ---- what the person sees -------------------------------------------------------------------

  /** The view reports whether a window is on screen (tab shown, scrolled into view). */
  setWindowInView(key: string, inView: boolean): void {
    this.store.setInView(key, inView);
    if (inView) this.ackViewedIfSeen(key);
  }

  /** The view reports page visibility (another browser tab, minimised window). */
  setDocumentVisible(visible: boolean): void {
    this.store.setDocumentVisible(visible);
    if (visible) for (const session of this.state.sessions) this.ackViewedIfSeen(session.key);
  }

  activate(key: string): void {
    this.store.activate(key);
  }

  /** If the window is in front of the person, count its messages as seen and tell the partner. */
  private ackViewedIfSeen(key: string): void {
    const session = this.store.session(key);
    if (!session || !this.store.isSeenNow(session)) return;
    const msgId = this.store.markViewed(key);
    if (msgId === null) return;
    this.viewed.set(key, msgId);
    this.persistence.saveViewed(this.viewed);
    this.sendViewedAck(session, msgId);
  }

  private sendViewedAck(session: ChatSession, msgId: number): void {
    if (session.ended) return;
    const key = session.key;
    this.client.request('VIEWED_ACK', { sessionId: session.sessionId, msgId }, { volatile: true }).then(
      () => {
        if (msgId > (this.viewedAcked.get(key) ?? 0)) this.viewedAcked.set(key, msgId);
      },
      () => {
        // Not connected or refused: resendViewedAcks() tries again once the connection is back.
      },
    );
  }

  private resendViewedAcks(): void {
    for (const session of this.state.sessions) {
      const acked = this.viewedAcked.get(session.key) ?? 0;
      if (session.viewedUpTo > acked) this.sendViewedAck(session, session.viewedUpTo);
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private saveOutbox(): void {
    this.persistence.saveOutbox([...this.outbox.values()]);
  }

  /** Tell the person what went wrong; a lost binding (code 5) is repaired instead. */
  private report(error: unknown): void {
    if (error instanceof ClientStoppedError) return;
    if (error instanceof RequestError && error.code === Code.UNAUTHORIZED && this.credentials) {
      this.scheduleRebind();
      return;
    }
    this.notices.show(describeError(error));
  }

  /**
   * Code 5 on a bound connection usually means another tab took the account and a 4000 close is
   * on its way; reconnecting at once would take it back. Wait, and reconnect only if no such close
   * came (the binding was lost some other way).
   */
  private scheduleRebind(): void {
    if (this.rebindTimer !== null) return;
    this.rebindTimer = this.timers.setTimeout(() => {
      this.rebindTimer = null;
      if (this.credentials && !this.client.isSuperseded && this.client.state === 'online') {
        this.client.forceReconnect();
      }
    }, REBIND_DELAY_MS);
  }
}
