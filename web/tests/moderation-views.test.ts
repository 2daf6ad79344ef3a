// @vitest-environment happy-dom
// The moderator console page: the token field, one row per report with its evidence as text, the
// row actions, the status filter, bans and the audit log.
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import ModerateApp from '../src/moderate/ModerateApp.vue';
import { ModerationConsole, TOKEN_KEY } from '../src/moderate/console';
import { MemoryStorage } from './fakes';
import { ADMIN_TOKEN, ModerationServer, report } from './moderation-server';

let wrapper: VueWrapper | null = null;
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
});

async function openConsole(server: ModerationServer, storage = new MemoryStorage()) {
  const moderation = new ModerationConsole({ fetch: server.fetch, storage });
  wrapper = mount(ModerateApp, { props: { moderation }, attachTo: document.body });
  await moderation.start();
  await flushPromises();
  return { wrapper, moderation, storage };
}

async function signIn(w: VueWrapper, token = ADMIN_TOKEN): Promise<void> {
  await w.get('[data-testid="admin-token-input"]').setValue(token);
  await w.get('form').trigger('submit');
  await flushPromises();
}

const rows = (w: VueWrapper) => w.findAll('[data-testid="report-row"]');

describe('moderator console', () => {
  it('asks for the token in a password field and says "Wrong token." on 401', async () => {
    const { wrapper, storage } = await openConsole(new ModerationServer());
    const input = wrapper.get('[data-testid="admin-token-input"]');
    expect(input.attributes('type')).toBe('password');
    expect(wrapper.get(`label[for="${input.attributes('id')}"]`).text()).toBe('Admin token');
    await signIn(wrapper, 'guess');
    expect(wrapper.get('[data-testid="token-hint"]').text()).toBe('Wrong token.');
    expect(wrapper.get('[data-testid="token-hint"]').attributes('role')).toBe('alert');
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('shows one row per report with its facts and the evidence as text, marked by speaker', async () => {
    const server = new ModerationServer();
    server.reports = [
      report(7, {
        reporterId: 10,
        reportedId: 20,
        sessionId: 555,
        reason: 'sexual',
        note: '<i>see</i> above',
        evidence: [
          { msgId: 1, senderId: 10, content: 'hi', createdAt: 1_700_000_000_000 },
          { msgId: 2, senderId: 20, content: '<img src=x onerror=alert(1)>', createdAt: 1_700_000_001_000 },
        ],
      }),
      report(9),
    ];
    const { wrapper } = await openConsole(server);
    await signIn(wrapper);
    expect(rows(wrapper).map((r) => r.attributes('data-report-id'))).toEqual(['9', '7']);
    const row = wrapper.get('[data-testid="report-row"][data-report-id="7"]');
    expect(row.get('[data-testid="row-reason"]').text()).toBe('sexual');
    expect(row.text()).toContain('Unwanted sexual content');
    expect(row.get('[data-testid="row-reporter"]').text()).toBe('account 10');
    expect(row.get('[data-testid="row-reported"]').text()).toBe('account 20');
    expect(row.get('[data-testid="row-session"]').text()).toBe('555');
    expect(row.get('[data-testid="row-note"]').text()).toBe('<i>see</i> above');
    const lines = row.findAll('[data-testid="evidence-message"]');
    expect(lines.map((l) => l.attributes('data-speaker'))).toEqual(['reporter', 'reported']);
    expect(lines.map((l) => l.get('.evidence__who').text())).toEqual(['reporter', 'reported']);
    expect(lines[1]!.get('[data-testid="evidence-text"]').text()).toBe('<img src=x onerror=alert(1)>');
    expect(row.find('img').exists()).toBe(false);
    expect(row.find('i').exists()).toBe(false);
    expect(row.find('time').attributes('datetime')).toBe(new Date(1_700_000_007_000).toISOString());
  });

  it('bans from a row: the ban and the resolution go out, the row leaves the open list, the ban is listed', async () => {
    const server = new ModerationServer();
    server.reports = [report(1), report(2)];
    const { wrapper } = await openConsole(server);
    await signIn(wrapper);
    await wrapper.get('[data-report-id="1"] [data-testid="ban-button"]').trigger('click');
    await flushPromises();
    expect(server.calls.filter((c) => c.method === 'POST').map((c) => [c.url, c.body])).toEqual([
      ['/admin/bans', { accountId: 20, reason: 'report 1: abuse' }],
      ['/admin/reports/1', { status: 'resolved' }],
    ]);
    expect(rows(wrapper).map((r) => r.attributes('data-report-id'))).toEqual(['2']);
    expect(wrapper.findAll('[data-testid="ban-row"]')).toHaveLength(1);
    expect(wrapper.findAll('[data-testid="audit-row"]').length).toBeGreaterThan(0);
  });

  it('suspends for 24 h and dismisses from a row', async () => {
    const server = new ModerationServer();
    server.reports = [report(1), report(2)];
    const { wrapper } = await openConsole(server);
    await signIn(wrapper);
    await wrapper.get('[data-report-id="2"] [data-testid="suspend-button"]').trigger('click');
    await flushPromises();
    expect(server.calls.find((c) => c.method === 'POST' && c.url === '/admin/bans')!.body).toMatchObject({ durationSeconds: 86_400 });
    await wrapper.get('[data-report-id="1"] [data-testid="dismiss-button"]').trigger('click');
    await flushPromises();
    expect(server.calls.find((c) => c.url === '/admin/reports/1')!.body).toEqual({ status: 'dismissed' });
    expect(rows(wrapper)).toHaveLength(0);
    expect(wrapper.get('[data-testid="no-reports"]').text()).toBe('No open reports.');
  });

  it('filters by status and offers actions on open reports only', async () => {
    const server = new ModerationServer();
    server.reports = [report(1, { status: 'resolved' }), report(2)];
    const { wrapper } = await openConsole(server);
    await signIn(wrapper);
    await wrapper.get('[data-testid="report-filter"]').setValue('resolved');
    await flushPromises();
    expect(server.calls.some((c) => c.url === '/admin/reports?status=resolved')).toBe(true);
    expect(rows(wrapper).map((r) => r.attributes('data-report-id'))).toEqual(['1']);
    expect(wrapper.findAll('[data-testid="ban-button"]')).toHaveLength(0);
    await wrapper.get('[data-testid="report-filter"]').setValue('all');
    await flushPromises();
    expect(rows(wrapper)).toHaveLength(2);
  });

  it('bans an address with a duration and lifts it', async () => {
    const server = new ModerationServer();
    const { wrapper } = await openConsole(server);
    await signIn(wrapper);
    const submit = wrapper.get('[data-testid="ban-address-submit"]');
    expect(submit.attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="ban-address-input"]').setValue('2001:db8::/32');
    await wrapper.get('[data-testid="ban-reason-input"]').setValue('bots');
    await wrapper.get('[data-testid="ban-duration-select"]').setValue('3');
    await wrapper.get('.ban-form').trigger('submit');
    await flushPromises();
    expect(server.calls.find((c) => c.method === 'POST')!.body).toEqual({
      address: '2001:db8::/32', reason: 'bots', durationSeconds: 7 * 24 * 3600,
    });
    const banRow = wrapper.get('[data-testid="ban-row"]');
    expect(banRow.text()).toContain('2001:db8::/32');
    expect((wrapper.get('[data-testid="ban-address-input"]').element as HTMLInputElement).value).toBe('');
    await banRow.get('[data-testid="lift-button"]').trigger('click');
    await flushPromises();
    expect(server.calls.some((c) => c.method === 'DELETE' && c.url === '/admin/bans/1')).toBe(true);
    expect(wrapper.findAll('[data-testid="ban-row"]')).toHaveLength(0);
  });

  it('signs in by itself with the token this tab kept, and forgets it on request', async () => {
    const storage = new MemoryStorage();
    storage.setItem(TOKEN_KEY, ADMIN_TOKEN);
    const { wrapper } = await openConsole(new ModerationServer(), storage);
    expect(wrapper.find('[data-testid="admin-token-input"]').exists()).toBe(false);
    await wrapper.get('[data-testid="sign-out-button"]').trigger('click');
    expect(wrapper.find('[data-testid="admin-token-input"]').exists()).toBe(true);
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
  });
});
