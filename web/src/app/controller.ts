// The application's use cases (start, match, next, send, leave, report, log out, start again) and
// the protocol rules that tie the socket to the store: RECONNECT on every new connection, history
// catch-up, pushes, and what a lost, taken-over, banned or expired connection means. Matching,
// sending, read receipts, typing, reporting, availability and alerts live in their own modules.
// No DOM: the view reports visibility and input through plain method calls.
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
  type ChatSession,
  type ChatState,
  type SessionEnd,
  type WindowSummary,
} from '../store/chat';
import { NoticeBoard } from '../store/notices';
import {
  ClientPersistence,
  isStringArray,
  type ArchivedWindow,
  type Credentials,
  type KeyValueStorage,
  type SavedWindow,
} from '../store/persistence';
import { Preferences } from '../store/preferences';
import { Attention, type AlertChannel } from './attention';
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
/**
 * Leave waits this many seconds before its LEAVE goes out, and can be undone until then: LEAVE is
 * final on the server, so holding it back a moment is the only way an undo can be true.
 */
export const LEAVE_UNDO_S = 3;
const SECOND_MS = 1_000;
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
  /** Sound and desktop notifications (the browser's); none: the page cannot alert. */
  alerts?: AlertChannel;
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
  private readonly attention: Attention;
  private readonly now: () => number;
  private credentials: Credentials | null;
  /** When the connection was last lost (null while online), to say how long the page was away. */
  private offlineSince: number | null = null;
  /** The nickname of an expired account, offered again on the nickname screen. */
  private previousNick = '';
  private readonly history: HistoryLoader;
  /** Sessions this person left: late pushes for them must not reopen a window. */
  private readonly left = new Set<string>();
  /** Windows open before a refresh, to bring back those the server no longer lists (ended). */
  private savedWindows: SavedWindow[];
  private rebindTimer: unknown = null;
  /** The next countdown step of each Leave still waiting (session.leaveCountdown), by window. */
  private readonly leaveTimers = new Map<string, unknown>();

  constructor(options: ControllerOptions) {
    this.timers = options.timers ?? SYSTEM_TIMERS;
    this.now = options.now ?? Date.now;
    const log = options.log ?? (() => undefined);
    this.notices = new NoticeBoard(this.timers);
    this.persistence = new ClientPersistence(options.storage);
    this.preferences = new Preferences(options.preferences ?? null);
    this.state.interests = cleanInterests(this.preferences.loadInterests());
    this.credentials = this.persistence.loadCredentials();
    // Conversations of an account that expired stay readable across refreshes until closed.
    for (const window of this.persistence.loadArchive()) {
      this.store.restoreArchived(window, window.messages);
    }
    if (!this.credentials) this.state.expired = this.persistence.loadExpired();
    this.previousNick = this.state.expired?.nickName ?? '';
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
        if (state === 'online') this.offlineSince = null;
        else if (this.state.connection === 'online') this.offlineSince = this.now();
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
      now: this.now,
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
        this.state.sessions
          .filter((s) => s.ended !== 'expired')
          .map((s) => ({
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
    this.finder = new MatchFinder(context, (key) => {
      this.left.delete(key);
      const session = this.store.session(key);
      if (session) this.attention.newChat(session);
    });
    this.safety = new Safety(context);
    this.availability = new Availability(context);
    this.attention = new Attention(
      this.state,
      options.alerts ?? null,
      this.preferences,
      this.now,
      (key) => this.bringToFront(key),
    );
  }

  get state(): ChatState {
    return this.store.state;
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.sendPendingLeaves();
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
      this.persistence.saveExpired(null);
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
    // A Leave still waiting goes out first: it was meant, and its partner hears of it as a leave.
    this.sendPendingLeaves();
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

  /** After the account expired: a new account with the same nickname, in one step. */
  startAgain(): Promise<boolean> {
    const expired = this.state.expired;
    return expired ? this.createAccount(expired.nickName) : Promise.resolve(false);
  }

  /** After the account expired: go to the nickname screen to pick another one. */
  chooseAnotherNickname(): void {
    this.state.expired = null;
    this.persistence.saveExpired(null);
  }

  /** The nickname to offer on the nickname screen (the expired account's), or ''. */
  get suggestedNickname(): string {
    return this.previousNick;
  }

  private forgetAccount(): void {
    this.dropAccount();
    this.persistence.clear();
    this.store.setAccount(null);
  }

  /**
   * RECONNECT said the server no longer knows the account (offline past the grace period, or
   * logged out elsewhere): keep what was said readable and the nickname, for starting again.
   */
  private expireAccount(credentials: Credentials): void {
    const since = this.offlineSince;
    this.dropAccount();
    this.persistence.clearAccount();
    this.previousNick = credentials.nickName;
    this.store.expire({
      nickName: credentials.nickName,
      offlineForMs: since === null ? null : Math.max(0, this.now() - since),
    });
    this.persistence.saveExpired(this.state.expired);
    this.saveArchive();
  }

  private dropAccount(): void {
    this.credentials = null;
    this.savedWindows = [];
    this.outbox.clear();
    this.receipts.clear();
    this.typingSignals.clear();
    this.history.clear();
    this.finder.clear();
    this.left.clear();
    this.availability.reset();
    for (const timer of this.leaveTimers.values()) this.timers.clearTimeout(timer);
    this.leaveTimers.clear();
  }

  /** The conversations of an expired account, as the page shows them, for the next refresh. */
  private saveArchive(): void {
    const archived: ArchivedWindow[] = this.state.sessions
      .filter((s) => s.ended === 'expired')
      .map((s) => ({
        sessionId: s.sessionId,
        partnerId: s.partnerId,
        partnerName: s.partnerName,
        commonInterests: [...s.commonInterests],
        messages: s.messages.map((m) => ({
          msgId: m.msgId,
          own: m.own,
          content: m.content,
          createdAt: m.createdAt,
        })),
      }));
    this.persistence.saveArchive(archived);
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
        this.expireAccount(credentials);
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
      if (!this.store.isSeenNow(session)) this.attention.message(session, push.content);
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
          session.fresh = !this.store.isSeenNow(session);
          this.notices.show(`${partnerName} started a chat with you.`, 'info');
          this.attention.newChat(session);
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

  /**
   * Look for a new partner (MATCH, retried while nobody is free): a new window, or a status saying
   * why not. Does nothing while a search runs. `origin`: the window whose button started it.
   */
  match(origin: string | null = null): Promise<void> {
    return this.finder.match(origin);
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

  /**
   * Next: end a conversation (LEAVE) and look for someone new, in one action. The ended window
   * stays, readable, until closed; the search's status shows in it.
   */
  async next(key: string): Promise<void> {
    const session = this.store.session(key);
    if (!session || session.leaving || session.ended === 'expired' || this.finder.searching) return;
    if (!session.ended && !(await this.end(key))) return;
    await this.match(key);
  }

  /** REPORT the partner of a window (ends the conversation); true once the server took it. */
  reportPartner(key: string, reason: ReportReason, note: string): Promise<boolean> {
    return this.leaveFirst(key, () => this.safety.report(key, reason, note));
  }

  /** BLOCK the partner of a window (ends the conversation); true once the server took it. */
  blockPartner(key: string): Promise<boolean> {
    return this.leaveFirst(key, () => this.safety.block(key));
  }

  /**
   * A Leave still counting down goes out (and is answered) before a report or block of the same
   * chat, so that its answer cannot come last and say "left" over "reported" (the server takes
   * both on an ended chat).
   */
  private leaveFirst(key: string, then: () => Promise<boolean>): Promise<boolean> {
    const session = this.store.session(key);
    if (!session || session.leaveCountdown === null) return then();
    return this.end(key).then(then);
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

  /** Take a message that failed for good back into the composer, to change it and send again. */
  editFailed(key: string, requestId: string): void {
    const message = this.store.findByRequest(key, requestId);
    if (!message || message.status !== 'failed') return;
    this.outbox.discard(key, requestId);
    this.store.restoreDraft(key, message.content);
    this.bringToFront(key);
  }

  /** Input activity in a window (throttled TYPING to the partner). */
  typing(key: string, text: string): void {
    this.typingSignals.input(key, text);
  }

  /**
   * Leave a conversation in one action: the window shows it as left at once (nothing can be sent
   * in it any more) and counts down LEAVE_UNDO_S seconds, then LEAVE goes out and the window stays,
   * readable, ended `left`, until closed. undoLeave() before that sends nothing. Each window
   * counts down on its own; a PartnerExit meanwhile drops the Leave (nothing is left to leave).
   */
  leave(key: string): void {
    const session = this.store.session(key);
    if (!session || session.ended || session.leaving || session.leaveCountdown !== null) return;
    session.leaveCountdown = LEAVE_UNDO_S;
    this.countDown(key);
  }

  /** Take back a Leave whose LEAVE has not gone out yet; true if there was one. */
  undoLeave(key: string): boolean {
    const session = this.store.session(key);
    if (!session || session.leaveCountdown === null) return false;
    this.stopCountdown(key);
    return true;
  }

  /**
   * Send every Leave still counting down at once: the page is being hidden or closed (its timers
   * may be slowed down or never fire again), or the connection is about to be closed.
   */
  sendPendingLeaves(): void {
    for (const session of this.state.sessions) {
      if (session.leaveCountdown !== null) void this.end(session.key);
    }
  }

  /**
   * Close a window: one whose conversation is still open is left first (LEAVE at once, no undo).
   * Resolves true once the window is closed.
   */
  async close(key: string): Promise<boolean> {
    const session = this.store.session(key);
    if (!session || session.leaving) return false;
    if (!session.ended && !(await this.end(key))) return false;
    this.closeWindow(key);
    return true;
  }

  private countDown(key: string): void {
    const timer = this.timers.setTimeout(() => {
      this.leaveTimers.delete(key);
      const session = this.store.session(key);
      // Undone, or the chat ended meanwhile (store.markEnded dropped the countdown).
      if (!session || session.leaveCountdown === null) return;
      if (session.leaveCountdown > 1) {
        session.leaveCountdown -= 1;
        this.countDown(key);
      } else {
        void this.end(key);
      }
    }, SECOND_MS);
    this.leaveTimers.set(key, timer);
  }

  private stopCountdown(key: string): void {
    const session = this.store.session(key);
    if (session) session.leaveCountdown = null;
    const timer = this.leaveTimers.get(key);
    if (timer === undefined) return;
    this.timers.clearTimeout(timer);
    this.leaveTimers.delete(key);
  }

  /** LEAVE: the conversation ends for both; the window stays (ended `left`). True once done. */
  private async end(key: string): Promise<boolean> {
    const session = this.store.session(key);
    if (!session || session.leaving) return false;
    this.stopCountdown(key);
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
    session.leaving = false;
    this.typingSignals.forget(key);
    this.store.markEnded(key, 'left');
    return true;
  }

  private closeWindow(key: string): void {
    const archived = this.store.session(key)?.ended === 'expired';
    this.left.add(key);
    this.typingSignals.forget(key);
    this.receipts.forget(key);
    this.outbox.forget(key);
    this.store.removeSession(key);
    if (archived) this.saveArchive();
  }

  // ---- what the person sees -------------------------------------------------------------------

  /** The view reports whether a window is on screen (tab shown, scrolled into view). */
  setWindowInView(key: string, inView: boolean): void {
    this.store.setInView(key, inView);
    if (inView) this.lookedAt(key);
  }

  /** The view reports the highest partner msgId on screen in a window (0: none). */
  setVisibleUpTo(key: string, msgId: number): void {
    this.store.setVisibleUpTo(key, msgId);
    this.receipts.ackIfSeen(key);
  }

  /** The view reports page visibility (another browser tab, minimised window). */
  /** A page being hidden may never be shown again: a Leave still counting down goes out now. */
  setDocumentVisible(visible: boolean): void {
    this.store.setDocumentVisible(visible);
    if (visible) for (const session of this.state.sessions) this.lookedAt(session.key);
    else this.sendPendingLeaves();
  }

  activate(key: string): void {
    this.store.activate(key);
  }

  /** Show a conversation and put the cursor in it (a notification was clicked, a shortcut). */
  bringToFront(key: string): void {
    if (!this.store.session(key)) return;
    this.store.activate(key);
    this.state.focusKey = key;
  }

  /** Sound while the page is hidden, on or off (remembered by the browser). */
  setSoundAlerts(on: boolean): void {
    this.attention.setSound(on);
  }

  /** Desktop notifications while the page is hidden; asks the browser first. True if on. */
  setDesktopAlerts(on: boolean): Promise<boolean> {
    return this.attention.setNotify(on);
  }

  private lookedAt(key: string): void {
    const session: ChatSession | undefined = this.store.session(key);
    if (!session || !this.store.isSeenNow(session)) return;
    this.store.markLookedAt(key);
    this.receipts.ackIfSeen(key);
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
