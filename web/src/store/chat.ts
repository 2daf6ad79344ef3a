// The conversations as the person sees them: sessions, their messages (deduplicated by msgId),
// read/seen marks, typing, presence and exit state, the search for a partner, and what is kept
// readable after the account expired. Pure state transitions on a Vue `reactive` object, with no
// DOM and no socket, so every rule here is unit-tested directly.
import { reactive } from 'vue';
import type { ConnectionState } from '../protocol/client';
import type { AccountId, SessionId, SessionSummary, StoredMessage } from '../protocol/types';
import { DEFAULT_MAX_CONTENT } from '../protocol/limits';

export type MessageStatus = 'pending' | 'sent' | 'failed';

export interface ChatMessage {
  /** Stable across the pending -> sent transition, for list rendering. */
  key: string;
  /** Assigned by the server; null while the message is pending or failed. */
  msgId: number | null;
  senderId: AccountId;
  own: boolean;
  /** Plain text, never interpreted as HTML. */
  content: string;
  createdAt: number;
  status: MessageStatus;
  /** The DIALOGUE requestId of an own message sent from this page (re-used by retries). */
  requestId: string | null;
  /** Why a failed message failed, for the person. */
  error: string | null;
  /** Whether sending it again can succeed (rate limited: yes; too large: no). */
  retryable: boolean;
}

/**
 * Why a conversation can no longer be written to: the partner left, the server closed it, this
 * person reported or blocked the partner or moved on to someone new (`left`, with Next), or this
 * person's account expired (`expired`: the transcript is all that is left, kept in the page).
 */
export type SessionEnd = 'partner-left' | 'closed' | 'reported' | 'blocked' | 'left' | 'expired';

/** Ends this person chose; they replace whatever ended the conversation before. */
const OWN_ENDS: readonly SessionEnd[] = ['reported', 'blocked', 'left'];

/**
 * What the search for a partner is doing: `interests` while the server prefers people who share
 * one (its interest wait), then `anyone`; after it, `none-free` (code 4 on every attempt),
 * `cancelled`, or `failed` (another error, said in `error`).
 */
export type MatchPhase = 'idle' | 'interests' | 'anyone' | 'none-free' | 'cancelled' | 'failed';

export interface MatchStatus {
  phase: MatchPhase;
  /** The interests the current search was sent with. */
  interests: string[];
  /** Accounts online, as the last MATCH answer said (null: the server did not say). */
  online: number | null;
  /** A CANCEL_MATCH is on its way; the searches it ends are answered code 4. */
  cancelling: boolean;
  /** When the search began (its first MATCH), for the elapsed time; null when none ran. */
  startedAt: number | null;
  /** Which MATCH of the search this is (1-based) and how many it makes before giving up. */
  attempt: number;
  attempts: number;
  /** The window whose Next or New chat started the search (its status shows there), or null. */
  origin: string | null;
  /** Why the search failed, for the person (phase `failed`). */
  error: string | null;
}

/** What is left of an account the server no longer knows (offline past its grace period). */
export interface ExpiredAccount {
  nickName: string;
  /** How long the page had been without a connection when it learned it, if it knows. */
  offlineForMs: number | null;
}

/** Opt-in signals while the page is hidden, and what the browser allows. */
export interface AlertSettings {
  sound: boolean;
  notify: boolean;
  /** The browser's notification permission ('unsupported' without the Notification API). */
  permission: 'default' | 'granted' | 'denied' | 'unsupported';
}

export interface ChatSession {
  key: string;
  sessionId: SessionId;
  partnerId: AccountId | null;
  partnerName: string;
  messages: ChatMessage[];
  /** Own messages up to this msgId were seen by the partner (ViewedAck). */
  partnerSeenUpTo: number;
  /** Partner messages up to this msgId were seen by this person. */
  viewedUpTo: number;
  partnerTyping: boolean;
  ended: SessionEnd | null;
  /** The window is on screen (reported by the view; hidden tabs and off-screen windows are not). */
  inView: boolean;
  /** A LEAVE is on its way; the window's controls wait for the answer. */
  leaving: boolean;
  /**
   * Leave was pressed and its LEAVE waits this many more seconds, during which it can be undone;
   * null: no Leave waiting. The window shows it as left already.
   */
  leaveCountdown: number | null;
  /** Interests both people named when they were matched (empty if none or a version 1 server). */
  commonInterests: string[];
  /** The partner's connection dropped and their grace period runs (PartnerAway until PartnerBack). */
  partnerAway: boolean;
  /** Someone else started this conversation while this person was not searching. */
  startedByPartner: boolean;
  /** What is typed in the composer and not sent yet (a refused message comes back here). */
  draft: string;
  /** A chat that opened during this visit and that the person has not looked at yet. */
  fresh: boolean;
  /** The highest partner msgId on screen now (reported by the view); what VIEWED_ACK may say. */
  visibleUpTo: number;
}

/** A message of an expired account's conversation, as kept for reading (see persistence.ts). */
export interface ArchivedMessage {
  msgId: number | null;
  own: boolean;
  content: string;
  createdAt: number;
}

export interface Account {
  accountId: AccountId;
  nickName: string;
}

export interface ChatState {
  account: Account | null;
  connection: ConnectionState;
  sessions: ChatSession[];
  /** The window shown on narrow screens, and the one keyboard focus was last in. */
  activeKey: string | null;
  /** MATCH requests waiting for an answer (the button shows progress while > 0). */
  matchesInFlight: number;
  /** The page is visible (document.visibilityState); nothing counts as seen while it is not. */
  documentVisible: boolean;
  /** A CRT_ACCOUNT is on its way. */
  creatingAccount: boolean;
  /** Ask the view to put keyboard focus into this window's input (after the person's own MATCH). */
  focusKey: string | null;
  /** Another tab or window took this account over; this one waits until the person resumes. */
  superseded: boolean;
  /** The interests MATCH is sent with: lowercased, at most five. */
  interests: string[];
  /** Whether others may start a chat with this person (AVAILABILITY). */
  available: boolean;
  match: MatchStatus;
  /** The moderators suspended or banned this account or address: their words, or null. */
  banned: string | null;
  /** The account expired; its conversations stay readable until the person starts again. */
  expired: ExpiredAccount | null;
  /** The most characters a message may have (the server's limit, once it says a lower one). */
  maxContent: number;
  alerts: AlertSettings;
}

/** What opening a window needs: a RECONNECT/MATCH summary, or a window saved before a refresh. */
export type WindowSummary = Omit<SessionSummary, 'partnerId'> & {
  partnerId: AccountId | null;
  commonInterests?: string[];
};

/** Map key of a session: the server's sessionId as a string, whatever its JSON type. */
export function sessionKey(sessionId: SessionId): string {
  return String(sessionId);
}

export function idleSearch(): MatchStatus {
  return {
    phase: 'idle',
    interests: [],
    online: null,
    cancelling: false,
    startedAt: null,
    attempt: 0,
    attempts: 0,
    origin: null,
    error: null,
  };
}

export class ChatStore {
  readonly state: ChatState;
  /** msgIds present per session: the dedupe index for pushes, history and send responses. */
  private readonly known = new Map<string, Set<number>>();

  constructor() {
    this.state = reactive<ChatState>({
      account: null,
      connection: 'connecting',
      sessions: [],
      activeKey: null,
      matchesInFlight: 0,
      documentVisible: true,
      creatingAccount: false,
      focusKey: null,
      superseded: false,
      interests: [],
      available: true,
      match: idleSearch(),
      banned: null,
      expired: null,
      maxContent: DEFAULT_MAX_CONTENT,
      alerts: { sound: false, notify: false, permission: 'unsupported' },
    });
  }

  // ---- account and connection ---------------------------------------------------------------

  setAccount(account: Account | null): void {
    this.state.account = account;
    if (account !== null) {
      this.state.expired = null;
      return;
    }
    this.resetAccountState();
    this.state.sessions.splice(0);
    this.state.activeKey = null;
    this.state.expired = null;
    this.known.clear();
  }

  /**
   * The server no longer knows the account: nothing can be sent any more, but what was said stays
   * readable. Open conversations end as `expired`, own messages not stored fail for good.
   */
  expire(expired: ExpiredAccount): void {
    this.state.account = null;
    this.resetAccountState();
    this.state.expired = expired;
    for (const session of this.state.sessions) {
      if (!session.ended) this.markEnded(session.key, 'expired');
      session.leaving = false;
      for (const message of session.messages) {
        if (message.msgId !== null) continue;
        message.status = 'failed';
        message.error = 'Not sent: your account had ended.';
        message.retryable = false;
      }
    }
  }

  private resetAccountState(): void {
    this.state.matchesInFlight = 0;
    this.state.focusKey = null;
    this.state.superseded = false;
    this.state.available = true;
    this.state.match = idleSearch();
    this.state.banned = null;
  }

  setConnection(state: ConnectionState): void {
    this.state.connection = state;
  }

  setDocumentVisible(visible: boolean): void {
    this.state.documentVisible = visible;
  }

  // ---- sessions -------------------------------------------------------------------------------

  session(sessionId: SessionId | string): ChatSession | undefined {
    const key = sessionKey(sessionId);
    return this.state.sessions.find((s) => s.key === key);
  }

  /**
   * Open a window for a session, or return the existing one (a NewSession push and a RECONNECT
   * listing can both announce the same session). A known partner name is never replaced by a blank.
   */
  openSession(
    summary: WindowSummary,
    options: { activate?: boolean; viewedUpTo?: number } = {},
  ): ChatSession {
    const activate = options.activate ?? false;
    const existing = this.session(summary.sessionId);
    if (existing) {
      if (summary.partnerName) existing.partnerName = summary.partnerName;
      existing.partnerId = summary.partnerId ?? existing.partnerId;
      if (summary.commonInterests?.length) existing.commonInterests = [...summary.commonInterests];
      if (activate) this.activate(existing.key);
      return existing;
    }
    const key = sessionKey(summary.sessionId);
    this.known.set(key, new Set());
    this.state.sessions.push({
      key,
      sessionId: summary.sessionId,
      partnerId: summary.partnerId ?? null,
      partnerName: summary.partnerName,
      messages: [],
      partnerSeenUpTo: 0,
      viewedUpTo: options.viewedUpTo ?? 0,
      partnerTyping: false,
      ended: null,
      inView: false,
      leaving: false,
      leaveCountdown: null,
      commonInterests: [...(summary.commonInterests ?? [])],
      partnerAway: false,
      startedByPartner: false,
      draft: '',
      fresh: false,
      visibleUpTo: 0,
    });
    if (activate || this.state.activeKey === null) this.state.activeKey = key;
    // Return the reactive proxy, so later writes through it re-render.
    return this.state.sessions[this.state.sessions.length - 1]!;
  }

  removeSession(key: string): void {
    const index = this.state.sessions.findIndex((s) => s.key === key);
    if (index < 0) return;
    this.state.sessions.splice(index, 1);
    this.known.delete(key);
    if (this.state.activeKey === key) {
      const next = this.state.sessions[Math.min(index, this.state.sessions.length - 1)];
      this.state.activeKey = next ? next.key : null;
    }
  }

  activate(key: string): void {
    if (this.session(key)) this.state.activeKey = key;
  }

  /**
   * The conversation ended; the partner leaving is not overwritten by a later "closed". A Leave
   * still waiting to go out is dropped: there is nothing left to leave.
   */
  markEnded(key: string, reason: SessionEnd): void {
    const session = this.session(key);
    if (!session || session.ended === reason) return;
    session.leaveCountdown = null;
    if (session.ended !== null && session.ended !== 'closed' && !OWN_ENDS.includes(reason)) return;
    session.ended = reason;
    session.partnerTyping = false;
    session.partnerAway = false;
  }

  setPartnerAway(key: string, away: boolean): void {
    const session = this.session(key);
    if (session) session.partnerAway = away && !session.ended;
  }

  setDraft(key: string, draft: string): void {
    const session = this.session(key);
    if (session) session.draft = draft;
  }

  /** Put the text of a refused message back into the composer, after anything typed since. */
  restoreDraft(key: string, text: string): void {
    const session = this.session(key);
    if (!session) return;
    session.draft = session.draft.trim() === '' ? text : `${session.draft}\n${text}`;
  }

  setInView(key: string, inView: boolean): void {
    const session = this.session(key);
    if (session) session.inView = inView;
  }

  /** The highest partner msgId the view shows on screen now (0: none). */
  setVisibleUpTo(key: string, msgId: number): void {
    const session = this.session(key);
    if (session) session.visibleUpTo = msgId;
  }

  /** The person has looked at a new chat: it no longer counts in the page title. */
  markLookedAt(key: string): void {
    const session = this.session(key);
    if (session) session.fresh = false;
  }

  /** A window kept from an expired account, with the messages it showed (never sent to the server). */
  restoreArchived(window: WindowSummary, messages: readonly ArchivedMessage[]): ChatSession {
    const session = this.openSession(window);
    session.ended = 'expired';
    session.viewedUpTo = Number.MAX_SAFE_INTEGER;
    const known = this.known.get(session.key)!;
    for (const message of messages) {
      if (message.msgId !== null && known.has(message.msgId)) continue;
      if (message.msgId !== null) known.add(message.msgId);
      const key = message.msgId !== null ? `m${message.msgId}` : `a${session.messages.length}`;
      session.messages.push({
        key,
        msgId: message.msgId,
        senderId: 0,
        own: message.own,
        content: message.content,
        createdAt: message.createdAt,
        status: message.msgId === null ? 'failed' : 'sent',
        requestId: null,
        error: message.msgId === null ? 'Not sent: your account had ended.' : null,
        retryable: false,
      });
    }
    return session;
  }

  setPartnerTyping(key: string, typing: boolean): void {
    const session = this.session(key);
    if (session && !session.ended) session.partnerTyping = typing;
  }

  markPartnerSeen(key: string, msgId: number): void {
    const session = this.session(key);
    if (session && msgId > session.partnerSeenUpTo) session.partnerSeenUpTo = msgId;
  }

  // ---- messages -------------------------------------------------------------------------------

  /**
   * Add a stored message (push or history). Returns false if it was already shown, which is
   * normal: pushes are at-least-once and history overlaps them.
   */
  addStored(key: string, message: StoredMessage): boolean {
    const session = this.session(key);
    const known = this.known.get(key);
    if (!session || !known || known.has(message.msgId)) return false;
    known.add(message.msgId);
    const own = message.senderId === this.state.account?.accountId;
    insertConfirmed(session.messages, {
      key: `m${message.msgId}`,
      msgId: message.msgId,
      senderId: message.senderId,
      own,
      content: String(message.content),
      createdAt: message.createdAt,
      status: 'sent',
      requestId: null,
      error: null,
      retryable: false,
    });
    if (!own) session.partnerTyping = false;
    return true;
  }

  /** Show an own message right away, before the server has answered. */
  addPending(key: string, requestId: string, content: string, createdAt: number): ChatMessage | null {
    const session = this.session(key);
    const account = this.state.account;
    if (!session || !account) return null;
    if (session.messages.some((m) => m.requestId === requestId)) return null;
    session.messages.push({
      key: `r${requestId}`,
      msgId: null,
      senderId: account.accountId,
      own: true,
      content,
      createdAt,
      status: 'pending',
      requestId,
      error: null,
      retryable: false,
    });
    return session.messages[session.messages.length - 1]!;
  }

  /** The server stored an own message as msgId: move it into place, or drop it if history already brought it. */
  markSent(key: string, requestId: string, msgId: number): void {
    const session = this.session(key);
    const known = this.known.get(key);
    if (!session || !known) return;
    const index = session.messages.findIndex((m) => m.requestId === requestId);
    if (index < 0) return;
    const [message] = session.messages.splice(index, 1);
    if (!message || known.has(msgId)) return;
    known.add(msgId);
    insertConfirmed(session.messages, { ...message, msgId, status: 'sent', error: null });
  }

  markFailed(key: string, requestId: string, error: string, retryable: boolean): void {
    const message = this.findByRequest(key, requestId);
    if (message && message.msgId === null) {
      message.status = 'failed';
      message.error = error;
      message.retryable = retryable;
    }
  }

  markRetrying(key: string, requestId: string): void {
    const message = this.findByRequest(key, requestId);
    if (message && message.msgId === null) {
      message.status = 'pending';
      message.error = null;
    }
  }

  discard(key: string, requestId: string): void {
    const session = this.session(key);
    if (!session) return;
    const index = session.messages.findIndex((m) => m.requestId === requestId && m.msgId === null);
    if (index >= 0) session.messages.splice(index, 1);
  }

  findByRequest(key: string, requestId: string): ChatMessage | undefined {
    return this.session(key)?.messages.find((m) => m.requestId === requestId);
  }

  /**
   * Where HISTORY should continue from: the highest msgId up to which nothing is missing. msgIds
   * are gap-free per session, so a hole means a message this page has not received yet.
   */
  historyCursor(key: string): number {
    const known = this.known.get(key);
    if (!known) return 0;
    let cursor = 0;
    while (known.has(cursor + 1)) cursor += 1;
    return cursor;
  }

  /**
   * Record that the person has now seen the partner's messages up to `upTo` (by default all of
   * them). Returns the msgId to acknowledge with VIEWED_ACK, or null when there is nothing new.
   */
  markViewed(key: string, upTo = Number.MAX_SAFE_INTEGER): number | null {
    const session = this.session(key);
    if (!session) return null;
    const highest = Math.min(highestPartnerMsgId(session), upTo);
    if (highest <= session.viewedUpTo) return null;
    session.viewedUpTo = highest;
    return highest;
  }

  /** Whether the person is looking at this window now (it counts as seen). */
  isSeenNow(session: ChatSession): boolean {
    return this.state.documentVisible && session.inView;
  }
}

// ---- derived values (pure functions of a session, used by views and the controller) -----------

/** Confirmed messages in msgId order, then pending and failed ones in the order they were typed. */
function insertConfirmed(messages: ChatMessage[], message: ChatMessage): void {
  const id = message.msgId ?? 0;
  let index = messages.length;
  while (index > 0) {
    const before = messages[index - 1]!;
    if (before.msgId !== null && before.msgId < id) break;
    index -= 1;
  }
  messages.splice(index, 0, message);
}

export function highestPartnerMsgId(session: ChatSession): number {
  let highest = 0;
  for (const m of session.messages) if (!m.own && m.msgId !== null && m.msgId > highest) highest = m.msgId;
  return highest;
}

/** Unread messages and chats nobody has looked at yet, for the page title. */
export function attentionCount(sessions: readonly ChatSession[]): number {
  let count = 0;
  for (const session of sessions) count += unreadCount(session) + (session.fresh ? 1 : 0);
  return count;
}

export function unreadCount(session: ChatSession): number {
  let count = 0;
  for (const m of session.messages) if (!m.own && m.msgId !== null && m.msgId > session.viewedUpTo) count += 1;
  return count;
}

/** Whether the composer takes messages: not once the chat ended, or Leave was pressed. */
export function canSend(session: ChatSession): boolean {
  return session.ended === null && session.leaveCountdown === null && !session.leaving;
}

/** What the mark next to an own message says. */
export function deliveryMark(session: ChatSession, message: ChatMessage): MessageStatus | 'seen' {
  if (message.msgId !== null && message.msgId <= session.partnerSeenUpTo) return 'seen';
  return message.status;
}
