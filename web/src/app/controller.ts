// The application's use cases (start, match, send, leave, report, log out) and the protocol rules
// that tie the socket to the store: RECONNECT on every new connection, history catch-up, pushes,
// and what a lost, taken-over or banned connection means. Matching, sending, read receipts, typing,
// reporting and availability live in their own modules. No DOM: the view reports visibility and
// input through plain method calls.
import { watch } from 'vue';
import type { BackoffPolicy } from '../protocol/backoff';
import {
  ProtocolClient,
  type HandshakeContext,
  type SocketFactory,
  type Timers,
} from '../protocol/client';
import { ClientStoppedError, describeError, RequestError } from '../protocol/errors';
import { SYSTEM_TIMERS } from '../protocol/timers';
import { Code, type Push, type ReportReason, type SignalPush } from '../protocol/types';
import {
  ChatStore,
  sessionKey,
  type ChatState,
  type SessionEnd,
  type WindowSummary,
} from '../store/chat';
import { NoticeBoard } from '../store/notices';
import {
  ClientPersistence,
  isStringArray,
  type Credentials,
  type KeyValueStorage,
  type SavedWindow,
} from '../store/persistence';
import { Preferences } from '../store/preferences';
import { Availability } from './availability';
import type { AppContext } from './context';
import { MatchFinder } from './finder';
import { HistoryLoader } from './history';
import { addInterests, cleanInterests, type InterestsEdit } from './interests';
import { nicknameProblem } from './nickname';
import { Outbox, REPLAY_TIMEOUT_MS } from './outbox';
import { ReadReceipts } from './receipts';
import { Safety } from './safety';
import { TypingSignals } from './typing';

export const ACCOUNT_TIMEOUT_MS = 15_000;
export const LOGOUT_TIMEOUT_MS = 5_000;
/**
 * After a code 5 on a bound connection, wait this long for the close that usually follows (4000:
 * another tab took the account) before concluding the binding was lost and reconnecting.
 */
export const REBIND_DELAY_MS = 1_000;
/** Shown for a conversation whose partner name this page never learned (a push before NewSession). */
const UNKNOWN_PARTNER = 'Stranger';

export interface ControllerOptions {
  url: string;
  socketFactory: SocketFactory;
  /** Per tab: the account's credentials and what a refresh needs (sessionStorage). */
  storage: KeyValueStorage;
  /** Per browser: preferences such as the interests (localStorage); none: nothing is remembered. */
  preferences?: KeyValueStorage;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  backoff?: BackoffPolicy;
  heartbeatIdleMs?: number;
  heartbeatTimeoutMs?: number;
  /** Diagnostics that are not the person's business (unexpected frames, handler bugs). */
  log?: (message: string, detail?: unknown) => void;
}

export class ChatController {
  readonly store = new ChatStore();
  readonly notices: NoticeBoard;
  readonly client: ProtocolClient;

  private readonly persistence: ClientPersistence;
  private readonly timers: Timers;
  private readonly outbox: Outbox;
  private readonly receipts: ReadReceipts;
  private readonly typingSignals: TypingSignals;
  private readonly finder: MatchFinder;
  private readonly safety: Safety;
  private readonly availability: Availability;
  private readonly preferences: Preferences;
  private credentials: Credentials | null;
  private readonly history: HistoryLoader;
  /** Sessions this person left: late pushes for them must not reopen a window. */
  private readonly left = new Set<string>();
  /** Windows open before a refresh, to bring back those the server no longer lists (ended). */
  private savedWindows: SavedWindow[];
  private rebindTimer: unknown = null;

  constructor(options: ControllerOptions) {
    this.timers = options.timers ?? SYSTEM_TIMERS;
    const log = options.log ?? (() => undefined);
    this.notices = new NoticeBoard(this.timers);
    this.persistence = new ClientPersistence(options.storage);
    this.preferences = new Preferences(options.preferences ?? null);
    this.state.interests = cleanInterests(this.preferences.loadInterests());
    this.credentials = this.persistence.loadCredentials();
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
      onUnexpectedFrame: (frame) => log('unexpected frame from the server', frame),
      onPushError: (error, push) => log('failed to handle a push', { error, push }),
    });
    const context: AppContext = {
      store: this.store,
      client: this.client,
      persistence: this.persistence,
      timers: this.timers,
      now: options.now ?? Date.now,
      accountId: () => this.credentials?.accountId ?? null,
      report: (error) => this.report(error),
      inform: (text) => {
        this.notices.show(text, 'info');
      },
    };
    const restore = this.credentials !== null;
    this.savedWindows = restore ? this.persistence.loadWindows() : [];
    // Remember the windows as they change, so a refresh can bring back ended ones too.
    watch(
      () =>
        this.state.sessions.map((s) => ({
          sessionId: s.sessionId,
          partnerId: s.partnerId,
          partnerName: s.partnerName,
          ended: s.ended,
          commonInterests: [...s.commonInterests],
        })),
      (windows) => {
        if (this.credentials) this.persistence.saveWindows(windows);
      },
      { flush: 'sync', deep: true },
    );
    this.outbox = new Outbox(context, restore);
    this.receipts = new ReadReceipts(context, restore);
    this.typingSignals = new TypingSignals(context);
    this.history = new HistoryLoader(context, (key) => this.receipts.ackIfSeen(key));
    this.finder = new MatchFinder(context, (key) => this.left.delete(key));
    this.safety = new Safety(context);
    this.availability = new Availability(context);
  }

  get state(): ChatState {
    return this.store.state;
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.client.stop();
    this.typingSignals.clear();
    this.finder.clear();
    this.notices.clear();
  }

  /** Take the account back after another tab or window took it over. */
  resume(): void {
    if (!this.state.superseded) return;
    this.state.superseded = false;
    this.client.reconnectNow();
  }

  /** One more RECONNECT after a ban stopped the connection (it may have been lifted). */
  tryAgainAfterBan(): void {
    if (this.client.isHeld) this.client.reconnectNow();
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
      this.availability.reset();
      this.state.banned = null;
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
    let confirmed = false;
    // A connection stopped by a ban carries nothing: log out here only.
    if (!this.client.isHeld) {
      try {
        await this.client.request(
          'LOGOUT',
          { accountId: credentials.accountId },
          { timeoutMs: LOGOUT_TIMEOUT_MS },
        );
        confirmed = true;
      } catch (error) {
        // Still log out here: the server ends the account once its offline grace runs out.
        confirmed = error instanceof RequestError && error.code === Code.UNAUTHORIZED;
      }
    }
    this.forgetAccount();
    // A fresh connection, so nothing of the old account's binding is left on it.
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
    this.savedWindows = [];
    this.outbox.clear();
    this.receipts.clear();
    this.typingSignals.clear();
    this.history.clear();
    this.finder.clear();
    this.left.clear();
    this.persistence.clear();
    this.store.setAccount(null);
    this.availability.reset();
  }

  // ---- connection -----------------------------------------------------------------------------

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
      if (error instanceof RequestError && error.code === Code.BANNED) {
        // Retrying by itself would only hear the same answer: wait until the person asks.
        this.noteBanned(error);
        this.client.hold();
        return;
      }
      throw error; // code 2 and the like: the client retries on a new socket with backoff
    }
    if (this.credentials !== credentials) return;
    this.credentials = { ...credentials, nickName: response.nickName };
    this.persistence.saveCredentials(this.credentials);
    this.store.setAccount({ accountId: response.accountId, nickName: response.nickName });
    this.state.banned = null;
    this.availability.fromServer(response.available);

    const listed = new Map(response.sessions.map((summary) => [sessionKey(summary.sessionId), summary]));
    const open = new Set(listed.keys());
    const reopen = (window: SavedWindow | WindowSummary, ended: SessionEnd | null): void => {
      const key = sessionKey(window.sessionId);
      this.left.delete(key);
      this.store.openSession(window, { viewedUpTo: this.receipts.viewedUpTo(key) });
      this.receipts.restored(key);
      if (ended) this.store.markEnded(key, ended);
    };
    // After a refresh, windows come back in the order they had. One the server no longer lists
    // ended while the page was away; it stays readable (HISTORY still works) until closed.
    const saved = this.savedWindows;
    this.savedWindows = [];
    for (const window of saved) {
      const key = sessionKey(window.sessionId);
      const summary = listed.get(key);
      if (summary) {
        reopen({ ...summary, commonInterests: window.commonInterests ?? [] }, null);
      } else if (!this.store.session(key)) {
        reopen(window, window.ended ?? 'closed');
        void this.history.load(key);
      }
    }
    for (const summary of response.sessions) reopen(summary, null);
    for (const session of this.state.sessions) {
      if (!open.has(session.key) && !session.ended) this.store.markEnded(session.key, 'closed');
    }
    this.outbox.restore(open);
    // Queued now, sent right after the handshake (after any re-sent messages, so a message stored
    // before a refresh is confirmed by its DIALOGUE answer before history could show it again).
    for (const key of open) void this.history.load(key);
  }

  /** The connection is online and bound again: re-send what it could not carry before. */
  private onBound(): void {
    this.outbox.rebound();
    this.receipts.resend();
  }

  // ---- pushes ---------------------------------------------------------------------------------

  private onPush(push: Push): void {
    const key = sessionKey(push.sessionId);
    const credentials = this.credentials;
    if (!credentials || this.left.has(key)) return;
    if (push.cmd !== 'PUSH_DIALOGUE') {
      this.onSignal(push, key);
      return;
    }
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
    if (added && push.senderId !== credentials.accountId) {
      this.typingSignals.partnerStopped(key);
      this.receipts.ackIfSeen(key);
    }
  }

  private onSignal(signal: SignalPush, key: string): void {
    const data = (signal.data ?? {}) as Record<string, unknown>;
    switch (signal.signalType) {
      case 'NewSession': {
        // Also the second announcement of a session our own MATCH opened: openSession dedupes.
        const partnerName = typeof data.nickName === 'string' ? data.nickName : UNKNOWN_PARTNER;
        const partnerId = typeof data.accountId === 'number' ? data.accountId : signal.senderId;
        const commonInterests = isStringArray(data.commonInterests) ? data.commonInterests : [];
        const known = this.store.session(key) !== undefined;
        const session = this.store.openSession({
          sessionId: signal.sessionId,
          partnerId,
          partnerName,
          commonInterests,
        });
        // While a search of ours waits, a new session is its answer arriving first.
        if (!known && !this.finder.searching) {
          session.startedByPartner = true;
          this.notices.show(`${partnerName} started a chat with you.`, 'info');
        }
        this.finder.sessionOpened();
        return;
      }
      case 'PartnerAway':
        this.store.setPartnerAway(key, true);
        return;
      case 'PartnerBack':
        this.store.setPartnerAway(key, false);
        return;
      case 'PartnerExit': {
        const session = this.store.session(key);
        if (!session || session.ended === 'partner-left') return;
        this.typingSignals.partnerStopped(key);
        this.store.markEnded(key, 'partner-left');
        if (!this.store.isSeenNow(session)) {
          this.notices.show(`${session.partnerName} left the chat.`, 'info');
        }
        return;
      }
      case 'ViewedAck':
        if (typeof data.msgId === 'number') this.receipts.partnerSaw(key, data.msgId);
        return;
      case 'Typing':
        this.typingSignals.partnerTyping(key);
        return;
      default:
        // Newer servers may add signals; they were acknowledged and are otherwise ignored.
        return;
    }
  }

  // ---- conversations --------------------------------------------------------------------------

  /** MATCH with the person's interests: a new window with a new partner, or why not. */
  match(): Promise<void> {
    return this.finder.match();
  }

  /** CANCEL_MATCH: stop every search still waiting. */
  cancelMatch(): Promise<void> {
    return this.finder.cancel();
  }

  /** Add comma-separated interests to the person's tags (remembered for the next visit). */
  addInterests(text: string): InterestsEdit {
    const edit = addInterests(this.state.interests, text);
    this.setInterests(edit.tags);
    return edit;
  }

  removeInterest(tag: string): void {
    this.setInterests(this.state.interests.filter((t) => t !== tag));
  }

  private setInterests(tags: string[]): void {
    this.state.interests = tags;
    this.preferences.saveInterests(tags);
  }

  /** AVAILABILITY: whether others may start a chat with this person. */
  setAvailable(available: boolean): void {
    this.availability.set(available);
  }

  /** Leave a conversation and look for someone new at once. */
  async next(key: string): Promise<void> {
    if (await this.leave(key)) await this.match();
  }

  /** REPORT the partner of a window (ends the conversation); true once the server took it. */
  reportPartner(key: string, reason: ReportReason, note: string): Promise<boolean> {
    return this.safety.report(key, reason, note);
  }

  /** BLOCK the partner of a window (ends the conversation); true once the server took it. */
  blockPartner(key: string): Promise<boolean> {
    return this.safety.block(key);
  }

  setDraft(key: string, draft: string): void {
    this.store.setDraft(key, draft);
  }

  /** Send a message typed in a window; false if there was nothing to send or it cannot be sent. */
  send(key: string, text: string): boolean {
    const sent = this.outbox.send(key, text);
    if (sent) this.typingSignals.sent(key);
    return sent;
  }

  retry(key: string, requestId: string): void {
    this.outbox.retry(key, requestId);
  }

  discard(key: string, requestId: string): void {
    this.outbox.discard(key, requestId);
  }

  /** Input activity in a window (throttled TYPING to the partner). */
  typing(key: string, text: string): void {
    this.typingSignals.input(key, text);
  }

  /**
   * Leave a conversation (LEAVE), or close the window of one that already ended. Resolves true
   * once the window is closed.
   */
  async leave(key: string): Promise<boolean> {
    const session = this.store.session(key);
    if (!session || session.leaving) return false;
    if (session.ended) {
      this.closeWindow(key);
      return true;
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
      // Code 7 on a repeated LEAVE (after a reconnect) means the first one worked.
      const alreadyOver = error instanceof RequestError && error.code === Code.SESSION_CLOSED;
      if (!alreadyOver && !(error instanceof ClientStoppedError)) {
        this.left.delete(key);
        session.leaving = false;
        this.report(error);
        return false;
      }
    }
    this.closeWindow(key);
    return true;
  }

  private closeWindow(key: string): void {
    this.left.add(key);
    this.typingSignals.forget(key);
    this.receipts.forget(key);
    this.outbox.forget(key);
    this.store.removeSession(key);
  }

  // ---- what the person sees -------------------------------------------------------------------

  /** The view reports whether a window is on screen (tab shown, scrolled into view). */
  setWindowInView(key: string, inView: boolean): void {
    this.store.setInView(key, inView);
    if (inView) this.receipts.ackIfSeen(key);
  }

  /** The view reports page visibility (another browser tab, minimised window). */
  setDocumentVisible(visible: boolean): void {
    this.store.setDocumentVisible(visible);
    if (visible) for (const session of this.state.sessions) this.receipts.ackIfSeen(session.key);
  }

  activate(key: string): void {
    this.store.activate(key);
  }

  // ---- errors ---------------------------------------------------------------------------------

  /** Tell the person what went wrong; a lost binding (code 5) is repaired instead. */
  private report(error: unknown): void {
    if (error instanceof ClientStoppedError) return;
    if (error instanceof RequestError && error.code === Code.UNAUTHORIZED && this.credentials) {
      this.scheduleRebind();
      return;
    }
    if (error instanceof RequestError && error.code === Code.BANNED) {
      this.noteBanned(error);
      return;
    }
    this.notices.show(describeError(error));
  }

  /** Code 10: the moderators' words stay on the page until a request succeeds again. */
  private noteBanned(error: RequestError): void {
    this.state.banned = describeError(error);
    this.notices.show(this.state.banned);
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
