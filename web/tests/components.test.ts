// @vitest-environment happy-dom
// The views against a controller on a fake socket: the test hooks, text-only rendering, the exit
// state and keyboard sending.
import { afterEach, describe, expect, it } from 'vitest';
import { flush } from './fakes';
import { byTestId, ME, mountApp, PARTNER, unmountApp } from './mount';

afterEach(unmountApp);

describe('views', () => {
  it('shows the nickname screen with labelled hooks until an account exists', async () => {
    const { wrapper, socket } = await mountApp(false);
    const input = wrapper.get('[data-testid="nickname-input"]');
    expect(wrapper.get('label[for="nickname"]').text()).toBe('Nickname');
    await input.setValue('Ada');
    await wrapper.get('form').trigger('submit');
    expect(socket.last('CRT_ACCOUNT')).toMatchObject({ nickName: 'Ada' });
    socket.answer('CRT_ACCOUNT', { accountId: ME, nickName: 'Ada', token: 't' });
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'match-button')).toHaveLength(1);
    expect(byTestId(wrapper, 'logout-button')).toHaveLength(1);
    expect(wrapper.get('[data-testid="connection-status"]').attributes('data-state')).toBe('online');
    expect(wrapper.text()).toContain('Ada');
  });

  it('renders one window per session with its partner and messages as text, never as HTML', async () => {
    const { wrapper, socket } = await mountApp(true);
    socket.receive({
      cmd: 'PUSH_DIALOGUE', senderId: PARTNER, sessionId: 1, msgId: 1,
      content: '<img src=x onerror=alert(1)>', createdAt: Date.now(),
    });
    await wrapper.vm.$nextTick();
    const windows = byTestId(wrapper, 'session-window');
    expect(windows).toHaveLength(1);
    expect(windows[0]!.attributes('data-session-id')).toBe('1');
    expect(windows[0]!.get('[data-testid="partner-name"]').text()).toBe('Bob');
    const messages = byTestId(wrapper, 'message');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.get('[data-testid="message-text"]').text()).toBe('<img src=x onerror=alert(1)>');
    expect(wrapper.find('img').exists()).toBe(false);
  });

  it('sends on Enter and shows the message pending, then sent', async () => {
    const { wrapper, socket } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('hello there');
    await input.trigger('keydown', { key: 'Enter' });
    expect(socket.last('DIALOGUE')).toMatchObject({ content: 'hello there', sessionId: 1, senderId: ME });
    expect((input.element as HTMLTextAreaElement).value).toBe('');
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="message"]').attributes('data-status')).toBe('pending');
    socket.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="message"]').attributes('data-status')).toBe('sent');
  });

  it('keeps Shift+Enter for a new line', async () => {
    const { wrapper, socket } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('line one');
    await input.trigger('keydown', { key: 'Enter', shiftKey: true });
    expect(socket.frames('DIALOGUE')).toHaveLength(0);
  });

  it('announces a partner exit, disables the input and offers a new chat in the window', async () => {
    const { wrapper, socket } = await mountApp(true);
    socket.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'PartnerExit', senderId: PARTNER, sessionId: 1, receiverId: ME,
      data: { accountId: PARTNER },
    });
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="partner-exit"]').text()).toContain('Bob left the chat.');
    expect(wrapper.get('[data-testid="message-input"]').attributes('disabled')).toBeDefined();
    expect(wrapper.get('[data-testid="send-button"]').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'match-button')).toHaveLength(1);
    await wrapper.get('[data-testid="window-new-chat"]').trigger('click');
    expect(socket.last('MATCH')).toMatchObject({ accountId: ME });
  });

  it('labels every control for assistive technology', async () => {
    const { wrapper } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    expect(wrapper.find(`label[for="${input.attributes('id')}"]`).text()).toBe('Message to Bob');
    expect(wrapper.get('[data-testid="leave-button"]').attributes('aria-label')).toBe('Leave the chat with Bob');
    for (const button of wrapper.findAll('button')) {
      expect(button.text() || button.attributes('aria-label')).toBeTruthy();
    }
  });
});
