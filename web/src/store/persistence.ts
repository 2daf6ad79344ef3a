// What survives a page refresh, in sessionStorage (per browser tab, so two tabs are two people):
// the credentials to RECONNECT with, and own messages not yet confirmed by the server, so a
// refresh in the middle of sending neither loses them nor stores them twice (same requestId);
// and, once an account expired, its conversations as they were, since the server no longer
// shows them to anyone.
import type { AccountId, SessionId } from '../protocol/types';
import type { ArchivedMessage, ExpiredAccount, SessionEnd } from './chat';

/** The subset of the Web Storage API used here (tests pass a Map-backed fake). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Credentials {
  accountId: AccountId;
  token: string;
  nickName: string;
}

/** An open window, remembered so a conversation that ended stays readable after a refresh. */
export interface SavedWindow {
  sessionId: SessionId;
  partnerId: AccountId | null;
  partnerName: string;
  ended: SessionEnd | null;
  /** Absent in windows saved by an older page. */
  commonInterests?: string[];
}

/** A conversation of an expired account, with the messages the page showed. */
export interface ArchivedWindow {
  sessionId: SessionId;
  partnerId: AccountId | null;
  partnerName: string;
  commonInterests: string[];
  messages: ArchivedMessage[];
}

/** The most recent messages kept per archived conversation (sessionStorage holds a few MB). */
export const ARCHIVE_MESSAGES = 500;

export interface OutboxEntry {
  requestId: string;
  sessionId: SessionId;
  content: string;
  createdAt: number;
}

const ENDS: ReadonlySet<unknown> = new Set<SessionEnd>([
  'partner-left',
  'closed',
  'reported',
  'blocked',
  'left',
  'expired',
]);

const KEYS = {
  accountId: 'pairchat.accountId',
  token: 'pairchat.token',
  nickName: 'pairchat.nickName',
  outbox: 'pairchat.outbox',
  viewed: 'pairchat.viewed',
  seen: 'pairchat.seen',
  windows: 'pairchat.windows',
} as const;
/** Kept when the account expires, until the person closes those windows or logs out. */
const ARCHIVE_KEYS = {
  archive: 'pairchat.archive',
  expired: 'pairchat.expired',
} as const;

export class ClientPersistence {
  constructor(private readonly storage: KeyValueStorage) {}

  loadCredentials(): Credentials | null {
    const accountId = Number(this.read(KEYS.accountId));
    const token = this.read(KEYS.token);
    const nickName = this.read(KEYS.nickName) ?? '';
    if (!Number.isSafeInteger(accountId) || accountId <= 0 || !token) return null;
    return { accountId, token, nickName };
  }

  saveCredentials(credentials: Credentials): void {
    this.write(KEYS.accountId, String(credentials.accountId));
    this.write(KEYS.token, credentials.token);
    this.write(KEYS.nickName, credentials.nickName);
  }

  /** Forget the account and everything tied to it, kept conversations of an expired one too. */
  clear(): void {
    this.clearAccount();
    for (const key of Object.values(ARCHIVE_KEYS)) this.remove(key);
  }

  /** Forget the account (it expired) but keep what clear() also removes: the archive. */
  clearAccount(): void {
    for (const key of Object.values(KEYS)) this.remove(key);
  }

  loadArchive(): ArchivedWindow[] {
    return this.readList(ARCHIVE_KEYS.archive, isArchivedWindow);
  }

  saveArchive(windows: ArchivedWindow[]): void {
    if (windows.length === 0) {
      this.remove(ARCHIVE_KEYS.archive);
      return;
    }
    const kept = windows.map((w) => ({ ...w, messages: w.messages.slice(-ARCHIVE_MESSAGES) }));
    this.write(ARCHIVE_KEYS.archive, JSON.stringify(kept));
  }

  loadExpired(): ExpiredAccount | null {
    const raw = this.read(ARCHIVE_KEYS.expired);
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      if (typeof parsed.nickName !== 'string') return null;
      const offline = parsed.offlineForMs;
      return { nickName: parsed.nickName, offlineForMs: typeof offline === 'number' ? offline : null };
    } catch {
      return null;
    }
  }

  saveExpired(expired: ExpiredAccount | null): void {
    if (expired === null) this.remove(ARCHIVE_KEYS.expired);
    else this.write(ARCHIVE_KEYS.expired, JSON.stringify(expired));
  }

  loadOutbox(): OutboxEntry[] {
    return this.readList(KEYS.outbox, isOutboxEntry);
  }

  saveOutbox(entries: OutboxEntry[]): void {
    if (entries.length === 0) this.remove(KEYS.outbox);
    else this.write(KEYS.outbox, JSON.stringify(entries));
  }

  /** Highest partner msgId seen per session key, so a refresh does not resurrect unread counts. */
  loadViewed(): Map<string, number> {
    return this.readNumbers(KEYS.viewed);
  }

  saveViewed(viewed: Map<string, number>): void {
    this.write(KEYS.viewed, JSON.stringify(Object.fromEntries(viewed)));
  }

  /**
   * Highest own msgId the partner has seen (ViewedAck) per session key: acknowledged pushes are
   * not sent again and HISTORY does not carry it, so without this a refresh would lose the marks.
   */
  loadSeen(): Map<string, number> {
    return this.readNumbers(KEYS.seen);
  }

  saveSeen(seen: Map<string, number>): void {
    this.write(KEYS.seen, JSON.stringify(Object.fromEntries(seen)));
  }

  loadWindows(): SavedWindow[] {
    return this.readList(KEYS.windows, isSavedWindow);
  }

  saveWindows(windows: SavedWindow[]): void {
    this.write(KEYS.windows, JSON.stringify(windows));
  }

  /** The entries of a stored JSON array that pass `keep`; none when unreadable. */
  private readList<T>(key: string, keep: (value: unknown) => value is T): T[] {
    const raw = this.read(key);
    if (!raw) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter(keep) : [];
    } catch {
      return [];
    }
  }

  private readNumbers(key: string): Map<string, number> {
    const numbers = new Map<string, number>();
    const raw = this.read(key);
    if (!raw) return numbers;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null) {
        for (const [name, value] of Object.entries(parsed)) {
          if (typeof value === 'number' && Number.isFinite(value)) numbers.set(name, value);
        }
      }
    } catch {
      // Unreadable: start from nothing, which only costs a mark or an unread count.
    }
    return numbers;
  }

  private read(key: string): string | null {
    try {
      return this.storage.getItem(key);
    } catch {
      return null;
    }
  }

  private write(key: string, value: string): void {
    try {
      this.storage.setItem(key, value);
    } catch {
      // Quota or privacy mode: the app still works, only a refresh will not restore it.
    }
  }

  private remove(key: string): void {
    try {
      this.storage.removeItem(key);
    } catch {
      // See write().
    }
  }
}

function isOutboxEntry(value: unknown): value is OutboxEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.requestId === 'string' &&
    (typeof entry.sessionId === 'string' || typeof entry.sessionId === 'number') &&
    typeof entry.content === 'string' &&
    typeof entry.createdAt === 'number'
  );
}

function isSavedWindow(value: unknown): value is SavedWindow {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    (typeof entry.sessionId === 'string' || typeof entry.sessionId === 'number') &&
    (typeof entry.partnerId === 'number' || entry.partnerId === null) &&
    typeof entry.partnerName === 'string' &&
    (entry.ended === null || ENDS.has(entry.ended)) &&
    (entry.commonInterests === undefined || isStringArray(entry.commonInterests))
  );
}

function isArchivedWindow(value: unknown): value is ArchivedWindow {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    (typeof entry.sessionId === 'string' || typeof entry.sessionId === 'number') &&
    (typeof entry.partnerId === 'number' || entry.partnerId === null) &&
    typeof entry.partnerName === 'string' &&
    isStringArray(entry.commonInterests) &&
    Array.isArray(entry.messages) &&
    entry.messages.every(isArchivedMessage)
  );
}

function isArchivedMessage(value: unknown): value is ArchivedMessage {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    (typeof entry.msgId === 'number' || entry.msgId === null) &&
    typeof entry.own === 'boolean' &&
    typeof entry.content === 'string' &&
    typeof entry.createdAt === 'number'
  );
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
