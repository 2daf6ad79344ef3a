// An in-memory moderation API behind a fetch function, as the operations listener answers it
// (DESIGN "Moderation API"): it records every call and checks the bearer token.
import type { Ban, Report } from '../src/moderate/api';

export const ADMIN_TOKEN = 's3cret';

export interface Call {
  method: string;
  url: string;
  authorization: string | null;
  body: unknown;
}

export function report(id: number, fields: Partial<Report> = {}): Report {
  return {
    id,
    createdAt: 1_700_000_000_000 + id * 1000,
    reporterId: 10,
    reportedId: 20,
    sessionId: 100 + id,
    reason: 'abuse',
    note: null,
    status: 'open',
    evidence: [],
    ...fields,
  };
}

export class ModerationServer {
  readonly calls: Call[] = [];
  reports: Report[] = [];
  bans: Ban[] = [];
  audit: { at: number; action: string; target: string; reason: string }[] = [];
  /** Make the next call to a path answer this instead. */
  readonly overrides = new Map<string, { status: number; body: string }>();
  private nextBan = 1;

  readonly fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const method = init.method ?? 'GET';
    const headers = new Headers(init.headers);
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    this.calls.push({ method, url, authorization: headers.get('Authorization'), body });
    const override = this.overrides.get(`${method} ${url}`);
    if (override) {
      this.overrides.delete(`${method} ${url}`);
      return new Response(override.body, { status: override.status });
    }
    if (headers.get('Authorization') !== `Bearer ${ADMIN_TOKEN}`) return json(401, { error: 'unauthorized' });
    return this.route(method, new URL(url, 'http://ops.test'), body as Record<string, unknown>);
  };

  private route(method: string, url: URL, body: Record<string, unknown>): Response {
    const path = url.pathname;
    if (method === 'GET' && path === '/admin/reports') {
      const status = url.searchParams.get('status') ?? 'open';
      return json(200, { reports: this.reports.filter((r) => status === 'all' || r.status === status) });
    }
    const reportId = /^\/admin\/reports\/(\d+)$/.exec(path)?.[1];
    if (method === 'POST' && reportId) {
      const found = this.reports.find((r) => String(r.id) === reportId);
      if (!found) return json(404, { error: 'no such report' });
      found.status = body.status as Report['status'];
      this.audit.unshift({ at: Date.now(), action: `report ${found.status}`, target: `report ${reportId}`, reason: '' });
      return json(200, found);
    }
    if (method === 'GET' && path === '/admin/bans') return json(200, { bans: this.bans });
    if (method === 'POST' && path === '/admin/bans') {
      const duration = typeof body.durationSeconds === 'number' ? body.durationSeconds : null;
      const ban: Ban = {
        id: this.nextBan++,
        ...(body.address ? { address: String(body.address) } : { accountId: Number(body.accountId) }),
        reason: String(body.reason),
        until: duration === null ? null : 1_700_000_000_000 + duration * 1000,
        createdAt: 1_700_000_000_000,
      };
      this.bans.push(ban);
      this.audit.unshift({ at: Date.now(), action: 'ban', target: String(body.address ?? body.accountId), reason: ban.reason });
      return json(201, ban);
    }
    const banId = /^\/admin\/bans\/(\d+)$/.exec(path)?.[1];
    if (method === 'DELETE' && banId) {
      this.bans = this.bans.filter((b) => String(b.id) !== banId);
      this.audit.unshift({ at: Date.now(), action: 'lift', target: `ban ${banId}`, reason: '' });
      return new Response(null, { status: 204 });
    }
    if (method === 'GET' && path === '/admin/audit') return json(200, { actions: this.audit });
    return new Response('not found\n', { status: 404 });
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}
