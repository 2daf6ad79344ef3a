// @vitest-environment happy-dom
// The page around the conversations with protocol 1.1: interests (on the nickname screen and beside
// "New chat"), the search's status and its cancel button, "open to new chats", and a ban.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { INTEREST_WAIT_MS, MATCH_ATTEMPTS, MATCH_RETRY_PAUSE_MS } from '../src/app/finder';
import { DEFAULT_BACKOFF } from '../src/protocol/backoff';
import { flush, MemoryStorage } from './fakes';
import { byTestId, ME, mountApp, PARTNER, unmountApp } from './mount';

afterEach(() => {
  unmountApp();
  vi.useRealTimers();
});

describe('interests', () => {
  it('turns comma-separated text into removable tags on the nickname screen and keeps them', async () => {
    const preferences = new MemoryStorage();
    const { wrapper, socket, controller } = await mountApp(false, preferences);
    const input = wrapper.get('[data-testid="interests-input"]');
    expect(wrapper.get(`label[for="${input.attributes('id')}"]`).text()).toBe('Interests');
    await input.setValue('Music, Games, ');
    expect(byTestId(wrapper, 'interest-tag').map((t) => t.text().replace('×', '').trim())).toEqual(['music', 'games']);
    expect((input.element as HTMLInputElement).value).toBe('');
    // Typed but not yet committed: starting counts it too.
    await input.setValue('chess');
    await wrapper.get('[data-testid="nickname-input"]').setValue('Ada');
    await wrapper.get('form').trigger('submit');
    expect(controller.state.interests).toEqual(['music', 'games', 'chess']);
    expect(JSON.parse(preferences.getItem('pairchat.interests')!)).toEqual(['music', 'games', 'chess']);
    await wrapper.get('button[aria-label="Remove the interest games"]').trigger('click');
    expect(controller.state.interests).toEqual(['music', 'chess']);
    socket.answer('CRT_ACCOUNT', { accountId: ME, nickName: 'Ada', token: 't' });
    await flush();
  });

  it('adds a tag on Enter without submitting, and says what was refused', async () => {
    const { wrapper, socket, controller } = await mountApp(false);
    const input = wrapper.get('[data-testid="interests-input"]');
    await input.setValue('jazz');
    await input.trigger('keydown', { key: 'Enter' });
    expect(controller.state.interests).toEqual(['jazz']);
    expect(socket.frames('CRT_ACCOUNT')).toHaveLength(0);
    await input.setValue('x'.repeat(30));
    await input.trigger('keydown', { key: 'Enter' });
    expect(controller.state.interests).toEqual(['jazz']);
    expect((input.element as HTMLInputElement).value).toBe('x'.repeat(30));
    expect(input.attributes('aria-invalid')).toBe('true');
    expect(wrapper.text()).toContain('at most 24 characters');
  });

  it('sends the interests beside "New chat" with MATCH, including text not yet turned into a tag', async () => {
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="interests-input"]').setValue('Films, travel');
    await wrapper.get('[data-testid="match-button"]').trigger('click');
    expect(socket.last('MATCH')).toMatchObject({ accountId: ME, interests: ['films', 'travel'] });
  });
});

describe('search', () => {
  it('shows what the search does, a cancel button while it waits, and "Search cancelled" after', async () => {
    vi.useFakeTimers();
    const { wrapper, socket, controller } = await mountApp(true);
    expect(byTestId(wrapper, 'cancel-match-button')).toHaveLength(0);
    expect(byTestId(wrapper, 'match-status')).toHaveLength(0);
    controller.addInterests('music, games');
    await wrapper.get('[data-testid="match-button"]').trigger('click');
    expect(wrapper.get('[data-testid="match-status"]').text()).toBe('Looking for someone who likes music, games…');
    vi.advanceTimersByTime(INTEREST_WAIT_MS);
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="match-status"]').text()).toBe('Looking for anyone…');
    await wrapper.get('[data-testid="cancel-match-button"]').trigger('click');
    expect(socket.frames('CANCEL_MATCH')).toHaveLength(1);
    socket.answer('CANCEL_MATCH');
    socket.fail('MATCH', 4, 'cancelled');
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="match-status"]').text()).toBe('Search cancelled.');
    expect(byTestId(wrapper, 'cancel-match-button')).toHaveLength(0);
    expect(byTestId(wrapper, 'notice')).toHaveLength(0);
  });

  it('shows elapsed time, people online and the attempt while it retries, then says nobody is free', async () => {
    vi.useFakeTimers();
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="match-button"]').trigger('click');
    vi.advanceTimersByTime(7_000);
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="match-progress"]').text()).toBe('0:07');
    for (let attempt = 1; attempt <= MATCH_ATTEMPTS; attempt += 1) {
      socket.receive({ cmd: 'MATCH', requestId: socket.last('MATCH').requestId, code: 4, msg: 'none', online: 5 });
      await flush();
      vi.advanceTimersByTime(MATCH_RETRY_PAUSE_MS);
      await flush();
      await wrapper.vm.$nextTick();
      if (attempt === 1) {
        expect(wrapper.get('[data-testid="match-progress"]').text()).toBe('0:07 · 5 online · try 2 of 4');
        // A second press while it runs starts no second search.
        await wrapper.get('[data-testid="match-button"]').trigger('click');
        expect(socket.frames('MATCH')).toHaveLength(2);
      }
    }
    expect(wrapper.get('[data-testid="match-status"]').text()).toBe('No one is free right now (5 online).');
    expect(byTestId(wrapper, 'match-progress')).toHaveLength(0);
    expect(byTestId(wrapper, 'cancel-match-button')).toHaveLength(0);
    expect(byTestId(wrapper, 'notice')).toHaveLength(0);
  });

  it('announces a chat someone else started and flashes its window', async () => {
    const { wrapper, socket } = await mountApp(true);
    socket.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'NewSession', senderId: 9, sessionId: 4, receiverId: ME,
      data: { accountId: 9, nickName: 'Zoe' },
    });
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="notice"]').text()).toContain('Zoe started a chat with you.');
    const window = wrapper.get('[data-testid="session-window"][data-session-id="4"]');
    expect(window.classes()).toContain('window--incoming');
    expect(wrapper.get('[data-testid="session-window"][data-session-id="1"]').classes()).not.toContain('window--incoming');
  });
});

describe('availability', () => {
  it('is a checkbox, checked by default, that sends AVAILABILITY', async () => {
    const { wrapper, socket } = await mountApp(true);
    const toggle = wrapper.get('[data-testid="availability-toggle"]');
    expect(toggle.attributes('type')).toBe('checkbox');
    expect((toggle.element as HTMLInputElement).checked).toBe(true);
    expect(toggle.element.closest('label')?.textContent).toContain('Open to new chats');
    await toggle.setValue(false);
    expect(socket.last('AVAILABILITY')).toMatchObject({ available: false });
  });
});

describe('ban', () => {
  it('shows the moderators\' words in a notice and a banner that stays, with "Try again" once stopped', async () => {
    vi.useFakeTimers();
    const { wrapper, socket, network } = await mountApp(true);
    socket.drop();
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    // The reconnect is refused: banned.
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 10, 'suspended until Friday');
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="notice"]').text()).toContain('suspended until Friday');
    expect(wrapper.get('[data-testid="banned-banner"]').text()).toContain('suspended until Friday');
    expect(wrapper.get('[data-testid="connection-status"]').attributes('data-state')).toBe('offline');
    const sockets = network.sockets.length;
    vi.advanceTimersByTime(10 * 60_000);
    expect(network.sockets).toHaveLength(sockets);
    await wrapper.get('[data-testid="banned-retry"]').trigger('click');
    expect(network.sockets).toHaveLength(sockets + 1);
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'Bob' }],
    });
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'banned-banner')).toHaveLength(0);
  });
});
