// The moderator console's API calls and state: the bearer token on every call, the token in
// sessionStorage only, ban/suspend/dismiss and what they do to the list, bans, audit, errors.
import { describe, expect, it } from 'vitest';
import { ModerationApi } from '../src/moderate/api';
import { ModerationConsole, speakerOf, SUSPEND_SECONDS, TOKEN_KEY } from '../src/moderate/console';
import { MemoryStorage } from './fakes';
import { ADMIN_TOKEN, ModerationServer, report } from './moderation-server';

function open(server = new ModerationServer(), storage = new MemoryStorage()) {
  const moderation = new ModerationConsole({ fetch: server.fetch, storage });
  return { server, storage, moderation };
}

async function signedIn(server = new ModerationServer()) {
  const ctx = open(server);
  await ctx.moderation.signIn(ADMIN_TOKEN);
  server.calls.length = 0;
  return ctx;
}

describe('API', () => {
  it('sends the bearer token, JSON and the documented paths', async () => {
    const server = new ModerationServer();
    server.reports = [report(1)];
    const api = new ModerationApi(ADMIN_TOKEN, server.fetch);
    await api.reports('open');
    await api.ban({ accountId: 20, reason: 'report 1: abuse', durationSeconds: 60 });
    await api.setReportStatus(1, 'resolved');
    await api.bans();
    await api.liftBan(1);
    await api.audit();
    expect(server.calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['GET', '/admin/reports?status=open', undefined],
      ['POST', '/admin/bans', { accountId: 20, reason: 'report 1: abuse', durationSeconds: 60 }],
      ['POST', '/admin/reports/1', { status: 'resolved' }],
      ['GET', '/admin/bans', undefined],
      ['DELETE', '/admin/bans/1', undefined],
      ['GET', '/admin/audit', undefined],
    ]);
    expect(new Set(server.calls.map((c) => c.authorization))).toEqual(new Set([`Bearer ${ADMIN_TOKEN}`]));
  });

  it('turns error answers into readable errors with their status', async () => {
    const server = new ModerationServer();
    const api = new ModerationApi(ADMIN_TOKEN, server.fetch);
    await expect(new ModerationApi('nope', server.fetch).bans()).rejects.toMatchObject({ status: 401, message: 'Wrong token.' });
    await expect(api.setReportStatus(9, 'dismissed')).rejects.toMatchObject({ status: 404, message: 'no such report (HTTP 404)' });
    server.overrides.set('GET /admin/bans', { status: 404, body: 'not found\n' });
    await expect(api.bans()).rejects.toMatchObject({ message: expect.stringMatching(/--admin-token/) });
    server.overrides.set('GET /admin/audit', { status: 500, body: '' });
    await expect(api.audit()).rejects.toMatchObject({ message: 'The server answered HTTP 500.' });
  });
});

describe('token', () => {
  it('keeps the token in sessionStorage only, and uses it again on the next load of the tab', async () => {
    const { server, storage, moderation } = open();
    await moderation.signIn(`  ${ADMIN_TOKEN} `);
    expect(moderation.state.signedIn).toBe(true);
    expect(storage.getItem(TOKEN_KEY)).toBe(ADMIN_TOKEN);
    const again = new ModerationConsole({ fetch: server.fetch, storage });
    await again.start();
    expect(again.state.signedIn).toBe(true);
    again.signOut();
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('says "Wrong token." on 401 and forgets it', async () => {
    const { storage, moderation } = open();
    await moderation.signIn('guess');
    expect(moderation.state).toMatchObject({ signedIn: false, tokenError: 'Wrong token.' });
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
  });
});

describe('reports', () => {
  it('loads open reports newest first, with the bans and the audit log', async () => {
    const server = new ModerationServer();
    server.reports = [report(1), report(3), report(2), report(4, { status: 'dismissed' })];
    const { moderation } = open(server);
    await moderation.signIn(ADMIN_TOKEN);
    expect(moderation.state.reports.map((r) => r.id)).toEqual([3, 2, 1]);
    expect(server.calls.map((c) => c.url).sort()).toEqual(['/admin/audit', '/admin/bans', '/admin/reports?status=open']);
    await moderation.setFilter('all');
    expect(moderation.state.reports.map((r) => r.id)).toEqual([4, 3, 2, 1]);
  });

  it('bans the reported account, then resolves the report, which leaves the open list', async () => {
    const server = new ModerationServer();
    server.reports = [report(1, { reportedId: 20, reason: 'spam' }), report(2)];
    const { moderation } = await signedIn(server);
    await moderation.ban(moderation.state.reports.find((r) => r.id === 1)!);
    expect(server.calls.slice(0, 2).map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/admin/bans', { accountId: 20, reason: 'report 1: spam' }],
      ['POST', '/admin/reports/1', { status: 'resolved' }],
    ]);
    expect(moderation.state.reports.map((r) => r.id)).toEqual([2]);
    expect(moderation.state.bans).toHaveLength(1);
    expect(moderation.state.audit.length).toBeGreaterThan(0);
    expect(moderation.state.done).toBe('Banned account 20; report 1 resolved.');
  });

  it('suspends for 24 hours the same way', async () => {
    const server = new ModerationServer();
    server.reports = [report(1)];
    const { moderation } = await signedIn(server);
    await moderation.ban(moderation.state.reports[0]!, SUSPEND_SECONDS);
    expect(server.calls[0]!.body).toEqual({ accountId: 20, reason: 'report 1: abuse', durationSeconds: 86_400 });
    expect(server.calls[1]!.body).toEqual({ status: 'resolved' });
  });

  it('dismisses a report; outside the open list the row stays with its new status', async () => {
    const server = new ModerationServer();
    server.reports = [report(1), report(2)];
    const { moderation } = await signedIn(server);
    await moderation.dismiss(moderation.state.reports[1]!);
    expect(server.calls[0]).toMatchObject({ method: 'POST', url: '/admin/reports/1', body: { status: 'dismissed' } });
    expect(moderation.state.reports.map((r) => r.id)).toEqual([2]);
    await moderation.setFilter('all');
    await moderation.dismiss(moderation.state.reports.find((r) => r.id === 2)!);
    expect(moderation.state.reports.map((r) => [r.id, r.status])).toEqual([[2, 'dismissed'], [1, 'dismissed']]);
  });

  it('says when a ban went through but the report could not be resolved, and keeps the row', async () => {
    const server = new ModerationServer();
    server.reports = [report(1)];
    const { moderation } = await signedIn(server);
    server.overrides.set('POST /admin/reports/1', { status: 500, body: '{"error": "database down"}' });
    await moderation.ban(moderation.state.reports[0]!);
    expect(moderation.state.error).toBe('Banned account 20, but report 1 is still open: database down (HTTP 500)');
    expect(moderation.state.reports).toHaveLength(1);
    expect(moderation.state.bans).toHaveLength(1);
  });

  it('returns to the token form with "Wrong token." when a call gets 401', async () => {
    const server = new ModerationServer();
    server.reports = [report(1)];
    const { moderation } = await signedIn(server);
    server.overrides.set('POST /admin/reports/1', { status: 401, body: '' });
    await moderation.dismiss(moderation.state.reports[0]!);
    expect(moderation.state).toMatchObject({ signedIn: false, tokenError: 'Wrong token.', reports: [] });
  });

  it('tells the reporter\'s lines from the reported account\'s', () => {
    const r = report(1, { reporterId: 10, reportedId: 20 });
    expect([speakerOf(r, 10), speakerOf(r, '20'), speakerOf(r, 30)]).toEqual(['reporter', 'reported', 'other']);
  });
});

describe('bans', () => {
  it('bans an address for a while and lifts a ban', async () => {
    const { server, moderation } = await signedIn();
    expect(await moderation.banAddress(' 203.0.113.0/24 ', ' spam wave ', 3600)).toBe(true);
    expect(server.calls[0]).toMatchObject({
      method: 'POST', url: '/admin/bans', body: { address: '203.0.113.0/24', reason: 'spam wave', durationSeconds: 3600 },
    });
    expect(moderation.state.bans).toHaveLength(1);
    await moderation.liftBan(moderation.state.bans[0]!);
    expect(server.calls.some((c) => c.method === 'DELETE' && c.url === '/admin/bans/1')).toBe(true);
    expect(moderation.state.bans).toHaveLength(0);
    expect(moderation.state.done).toBe('Ban 1 lifted.');
  });

  it('bans an address for good without a duration', async () => {
    const { server, moderation } = await signedIn();
    await moderation.banAddress('198.51.100.7', 'abuse');
    expect(server.calls[0]!.body).toEqual({ address: '198.51.100.7', reason: 'abuse' });
  });

  it('says when the server cannot be reached', async () => {
    const moderation = new ModerationConsole({
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
      storage: new MemoryStorage(),
    });
    await moderation.signIn(ADMIN_TOKEN);
    expect(moderation.state.error).toBe('Could not reach the server.');
  });
});
