// The pairchat wire protocol, version 1.1, as TypeScript types (the contract is docs/protocol.md).
// Every 1.1 field is optional on the way in: a version 1 server never sends them.
// Only shapes live here: no I/O, so both the client and the store can import them freely.

/** Result codes of every response; `OK` is the only success. */
export const Code = {
  OK: 0,
  PARAM_ERR: 1,
  INTERNAL_ERR: 2,
  UNKNOWN_CMD: 3,
  NOT_FOUND: 4,
  UNAUTHORIZED: 5,
  FORBIDDEN: 6,
  SESSION_CLOSED: 7,
  RATE_LIMITED: 8,
  TOO_LARGE: 9,
  BANNED: 10,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

/** The protocol does not fix the type of sessionId, so the client keeps whatever the server sent. */
export type SessionId = string | number;
export type AccountId = number;

export interface SessionSummary {
  sessionId: SessionId;
  partnerId: AccountId;
  partnerName: string;
}

/** Why a partner is reported (REPORT's `reason`), exactly as the protocol names them. */
export const REPORT_REASONS = ['spam', 'abuse', 'sexual', 'minor', 'other'] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];

export interface StoredMessage {
  msgId: number;
  senderId: AccountId;
  content: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** Request fields per command, without `cmd` and `requestId` (the client adds those). */
export interface RequestMap {
  CRT_ACCOUNT: { nickName: string };
  RECONNECT: { accountId: AccountId; token: string };
  MATCH: { accountId: AccountId; interests?: string[] };
  CANCEL_MATCH: Record<string, never>;
  AVAILABILITY: { available: boolean };
  REPORT: { sessionId: SessionId; reason: ReportReason; note?: string };
  BLOCK: { sessionId: SessionId };
  DIALOGUE: { senderId: AccountId; sessionId: SessionId; content: string };
  LEAVE: { sessionId: SessionId };
  LOGOUT: { accountId: AccountId };
  HISTORY: { sessionId: SessionId; afterMsgId?: number; limit?: number };
  VIEWED_ACK: { sessionId: SessionId; msgId: number };
  TYPING: { sessionId: SessionId };
  PING: Record<string, never>;
}

/** Success-response fields per command (besides `cmd`, `requestId`, `code`). */
export interface ResponseMap {
  CRT_ACCOUNT: { nickName: string; accountId: AccountId; token: string };
  RECONNECT: {
    accountId: AccountId;
    nickName: string;
    sessions: SessionSummary[];
    available?: boolean;
  };
  MATCH: {
    partnerId: AccountId;
    partnerName: string;
    sessionId: SessionId;
    commonInterests?: string[];
    /** Accounts online now (approximate when scaled out); also on a code 4 answer. */
    online?: number;
  };
  CANCEL_MATCH: Record<string, never>;
  AVAILABILITY: Record<string, never>;
  REPORT: Record<string, never>;
  BLOCK: Record<string, never>;
  DIALOGUE: { sessionId: SessionId; msgId: number };
  LEAVE: Record<string, never>;
  LOGOUT: Record<string, never>;
  HISTORY: { sessionId: SessionId; messages: StoredMessage[] };
  VIEWED_ACK: Record<string, never>;
  TYPING: Record<string, never>;
  PING: Record<string, never>;
}

export type Command = keyof RequestMap;

export interface ResponseEnvelope {
  cmd: string;
  requestId?: string;
  code: number;
  msg?: string;
}

export type Response<C extends Command> = ResponseEnvelope & ResponseMap[C];

export interface DialoguePush {
  cmd: 'PUSH_DIALOGUE';
  senderId: AccountId;
  sessionId: SessionId;
  msgId: number;
  content: string;
  createdAt: number;
}

interface SignalBase {
  cmd: 'PUSH_SIGNAL';
  senderId: AccountId;
  sessionId: SessionId;
  receiverId: AccountId;
}

export interface NewSessionSignal extends SignalBase {
  signalType: 'NewSession';
  data: { accountId: AccountId; nickName: string; commonInterests?: string[] };
}
export interface PartnerExitSignal extends SignalBase {
  signalType: 'PartnerExit';
  data: { accountId: AccountId };
}
export interface ViewedAckSignal extends SignalBase {
  signalType: 'ViewedAck';
  data: { accountId: AccountId; msgId: number };
}
export interface TypingSignal extends SignalBase {
  signalType: 'Typing';
  data: { accountId: AccountId };
}
/** The partner's connection dropped; their offline grace period runs. */
export interface PartnerAwaySignal extends SignalBase {
  signalType: 'PartnerAway';
  data: { accountId: AccountId };
}
/** The partner came back (RECONNECT) within their grace period. */
export interface PartnerBackSignal extends SignalBase {
  signalType: 'PartnerBack';
  data: { accountId: AccountId };
}
/** A signal type this client does not know; it is still acknowledged so it is not re-sent forever. */
export interface UnknownSignal extends SignalBase {
  signalType: string;
  data?: unknown;
}

export type KnownSignal =
  | NewSessionSignal
  | PartnerExitSignal
  | ViewedAckSignal
  | TypingSignal
  | PartnerAwaySignal
  | PartnerBackSignal;
export type SignalPush = KnownSignal | UnknownSignal;
export type Push = DialoguePush | SignalPush;
