// The moderation API of the operations listener (docs: DESIGN "Moderation API"), as typed calls.
// Every call carries the bearer token; fetch is injected, so tests need no server.

export type ReportStatus = 'open' | 'resolved' | 'dismissed';
export type ReportFilter = ReportStatus | 'all';
export const REPORT_FILTERS: readonly ReportFilter[] = ['open', 'resolved', 'dismissed', 'all'];

/** Ids are numbers in pairchat, but nothing here depends on that. */
export type Id = number | string;

export interface Evidence {
  msgId: number;
  senderId: Id;
  content: string;
  /** Milliseconds since the epoch, like every time of this API. */
  createdAt: number;
}

export interface Report {
  id: Id;
  createdAt: number;
  reporterId: Id;
  reportedId: Id;
  sessionId: Id;
  reason: string;
  note: string | null;
  status: ReportStatus;
  evidence: Evidence[];
}

export interface Ban {
  id: Id;
  accountId?: Id | null;
  address?: string | null;
  reason: string;
  /** When the ban ends; null: for good. */
  until: number | null;
  createdAt: number;
}

export type BanRequest = ({ accountId: Id } | { address: string }) & {
  reason: string;
  /** Omitted: for good. */
  durationSeconds?: number;
};

export interface AuditAction {
  at: number;
  action: string;
  target: string;
  reason: string;
}

/** The API answered with an error status (401: wrong or missing token). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export class ModerationApi {
  /** `base` is the listener's origin; empty for the page's own (the console is served there). */
  constructor(
    private readonly token: string,
    private readonly fetchFn: FetchLike,
    private readonly base = '',
  ) {}

  async reports(status: ReportFilter): Promise<Report[]> {
    const body = await this.call('GET', `/admin/reports?status=${encodeURIComponent(status)}`);
    return listOf<Report>(body, 'reports').map((report) => ({
      ...report,
      note: typeof report.note === 'string' ? report.note : null,
      evidence: Array.isArray(report.evidence) ? report.evidence : [],
    }));
  }

  async setReportStatus(id: Id, status: Exclude<ReportStatus, 'open'>): Promise<Report> {
    const path = `/admin/reports/${encodeURIComponent(String(id))}`;
    return (await this.call('POST', path, { status })) as Report;
  }

  async ban(request: BanRequest): Promise<Ban> {
    return (await this.call('POST', '/admin/bans', request)) as Ban;
  }

  async bans(): Promise<Ban[]> {
    return listOf<Ban>(await this.call('GET', '/admin/bans'), 'bans');
  }

  async liftBan(id: Id): Promise<void> {
    await this.call('DELETE', `/admin/bans/${encodeURIComponent(String(id))}`);
  }

  async audit(): Promise<AuditAction[]> {
    return listOf<AuditAction>(await this.call('GET', '/admin/audit'), 'actions');
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.fetchFn(`${this.base}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      // The token goes in the header only; no cookies are involved.
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await response.text();
    if (!response.ok) throw new ApiError(response.status, errorText(response.status, text));
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ApiError(response.status, 'The server answered with something that is not JSON.');
    }
  }
}

/** The array under `key` of an answer, or an empty one when the answer has none. */
function listOf<T>(body: unknown, key: string): T[] {
  if (typeof body !== 'object' || body === null) return [];
  const list = (body as Record<string, unknown>)[key];
  return Array.isArray(list) ? (list as T[]) : [];
}

/** A sentence for the moderator: the server's own reason if it gave one, else the status. */
function errorText(status: number, text: string): string {
  if (status === 401) return 'Wrong token.';
  let reason: string | null = null;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const field = ['error', 'msg', 'message', 'detail'].map((name) => parsed[name]);
    reason = (field.find((value) => typeof value === 'string') as string | undefined) ?? null;
  } catch {
    // Not JSON: not the API speaking (a plain 404 of a listener without the API, a proxy).
  }
  if (reason) return `${reason} (HTTP ${status})`;
  if (status === 404) return 'Not found (HTTP 404): is the moderation API on (--admin-token)?';
  const plain = text.trim().slice(0, 200);
  return plain ? `${plain} (HTTP ${status})` : `The server answered HTTP ${status}.`;
}
