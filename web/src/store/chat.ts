// The conversations as the person sees them: sessions, their messages (deduplicated by msgId),
// read/seen marks, typing, presence and exit state, and the search for a partner. Pure state transitions on a Vue `reactive` object, with
// no DOM and no socket, so every rule here is unit-tested directly.
import { reactive } from 'vue';
import type { ConnectionState } from '../protocol/client';
import type { AccountId, SessionId, SessionSummary, StoredMessage } from '../protocol/types';

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
 * Why a conversation can no longer be written to: the partner left, the server closed it, or this
 * person reported or blocked the partner.
 */
export type SessionEnd = 'partner-left' | 'closed' | 'reported' | 'blocked';

/** Ends this person chose; they replace whatever ended the conversation before. */
const OWN_ENDS: readonly SessionEnd[] = ['reported', 'blocked'];

/**
 * What the search for a partner is doing: `interests` while the server prefers people who share
 * one (its interest wait), then `anyone`; after it, `none-free` (code 4) or `cancelled`.
 */
export type MatchPhase = 'idle' | 'interests' | 'anyone' | 'none-free' | 'cancelled';

export interface MatchStatus {
  phase: MatchPhase;
  /** The interests the current search was sent with. */
  interests: string[];
  /** Accounts online, as the last MATCH answer said (null: the server did not say). */
  online: number | null;
  /** A CANCEL_MATCH is on its way; the searches it ends are answered code 4. */
  cancelling: boolean;
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
  /** Interests both people named when they were matched (empty if none or a version 1 server). */
  commonInterests: string[];
  /** The partner's connection dropped and their grace period runs (PartnerAway until PartnerBack). */
  partnerAway: boolean;
  /** Someone else started this conversation while this person was not searching. */
  startedByPartner: boolean;
  /** What is typed in the composer and not sent yet (a refused message comes back here). */
  draft: string;
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
      match: { phase: 'idle', interests: [], online: null, cancelling: false },
      banned: null,
    });
  }

  // ---- account and connection ---------------------------------------------------------------

  setAccount(account: Account | null): void {
    this.state.account = account;
    if (account === null) {
      this.state.sessions.splice(0);
      this.state.activeKey = null;
      this.state.matchesInFlight = 0;
      this.state.focusKey = null;
      this.state.superseded = false;
      this.state.available = true;
      this.state.match = { phase: 'idle', interests: [], online: null, cancelling: false };
      this.state.banned = null;
      this.known.clear();
    }
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
      commonInterests: [...(summary.commonInterests ?? [])],
      partnerAway: false,
      startedByPartner: false,
      draft: '',
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

  /** The conversation ended; the partner leaving is not overwritten by a later "closed". */
  markEnded(key: string, reason: SessionEnd): void {
    const session = this.session(key);
    if (!session || session.ended === reason) return;
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
   * Record that the person has now seen every partner message in this window. Returns the msgId to
   * acknowledge with VIEWED_ACK, or null when there is nothing new.
   */
  markViewed(key: string): number | null {
    const session = this.session(key);
    if (!session) return null;
    const highest = highestPartnerMsgId(session);
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

export function unreadCount(session: ChatSession): number {
  let count = 0;
  for (const m of session.messages) if (!m.own && m.msgId !== null && m.msgId > session.viewedUpTo) count += 1;
  return count;
}

export function canSend(session: ChatSession): boolean {
  return session.ended === null;
}

/** What the mark next to an own message says. */
export function deliveryMark(session: ChatSession, message: ChatMessage): MessageStatus | 'seen' {
  if (message.msgId !== null && message.msgId <= session.partnerSeenUpTo) return 'seen';
  return message.status;
}
