// @vitest-environment happy-dom
// A conversation window with protocol 1.1: next, the report dialog, block in one click, the
// partner away, shared interests, jumping to the latest message, and text kept on code 8.
import { afterEach, describe, expect, it } from 'vitest';
import { REPORT_REASONS } from '../src/protocol/types';
import { flush } from './fakes';
import { byTestId, ME, mountApp, PARTNER, unmountApp } from './mount';
import type { FakeSocket, Frame } from './fakes';

afterEach(unmountApp);

function signal(socket: FakeSocket, signalType: string, data: Frame = { accountId: PARTNER }) {
  socket.receive({ cmd: 'PUSH_SIGNAL', signalType, senderId: PARTNER, sessionId: 1, receiverId: ME, data });
}

function message(socket: FakeSocket, msgId: number) {
  socket.receive({
    cmd: 'PUSH_DIALOGUE', senderId: PARTNER, sessionId: 1, msgId, content: `m${msgId}`, createdAt: Date.now(),
  });
}

/** Give the message list a size, as a browser would, and scroll it to `top`. */
async function scrollList(
  list: { element: Element; trigger(event: string): Promise<void> },
  top: number,
): Promise<void> {
  const element = list.element as HTMLElement;
  Object.defineProperty(element, 'scrollHeight', { configurable: true, get: () => 1000 });
  Object.defineProperty(element, 'clientHeight', { configurable: true, get: () => 200 });
  element.scrollTop = top;
  await list.trigger('scroll');
}

describe('conversation actions', () => {
  it('has next, report and block in every window, labelled for the partner', async () => {
    const { wrapper } = await mountApp(true);
    const window = wrapper.get('[data-testid="session-window"]');
    expect(window.get('[data-testid="next-button"]').attributes('aria-label')).toBe('Next: leave Bob and find someone new');
    expect(window.get('[data-testid="report-button"]').attributes('aria-label')).toBe('Report Bob');
    expect(window.get('[data-testid="block-button"]').attributes('aria-label')).toBe(
      'Block Bob: end this chat and never be matched again',
    );
  });

  it('next ends the conversation and starts a new search, the ended one staying readable with the search in it', async () => {
    const { wrapper, socket } = await mountApp(true);
    message(socket, 1);
    await wrapper.get('[data-testid="next-button"]').trigger('click');
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    socket.answer('LEAVE');
    await flush();
    expect(socket.last('MATCH')).toMatchObject({ accountId: ME });
    await wrapper.vm.$nextTick();
    const window = wrapper.get('[data-testid="session-window"]');
    expect(window.get('[data-testid="partner-exit"]').attributes('data-end')).toBe('left');
    expect(window.get('[data-testid="partner-exit"]').text()).toContain('You left the chat with Bob.');
    expect(window.get('[data-testid="message-text"]').text()).toBe('m1');
    // The search runs beside the button that started it, with its cancel button.
    expect(window.get('[data-testid="match-status"]').text()).toBe('Looking for anyone…');
    expect(window.findAll('[data-testid="cancel-match-button"]')).toHaveLength(1);
    expect(byTestId(wrapper, 'match-status')).toHaveLength(1);
    expect(window.findAll('[data-testid="close-button"]')).toHaveLength(1);
  });

  it('reports through a dialog with the protocol\'s reasons, a 500-character note, and ends the chat', async () => {
    const { wrapper, socket } = await mountApp(true);
    expect(byTestId(wrapper, 'report-reason')).toHaveLength(0);
    await wrapper.get('[data-testid="report-button"]').trigger('click');
    const dialog = wrapper.get('[role="dialog"]');
    expect(dialog.text()).toContain('Report Bob');
    const select = dialog.get('[data-testid="report-reason"]');
    expect(select.element.tagName).toBe('SELECT');
    expect(select.findAll('option').map((o) => o.attributes('value'))).toEqual([...REPORT_REASONS]);
    expect(select.findAll('option').map((o) => o.text())).not.toContain('abuse');
    expect(document.activeElement).toBe(select.element);
    const note = dialog.get('[data-testid="report-note"]');
    expect(note.element.tagName).toBe('TEXTAREA');
    expect(note.attributes('maxlength')).toBe('500');
    // The first reason is chosen from the start, as a plain select does: the report can go at once.
    expect((select.element as HTMLSelectElement).value).toBe('spam');
    expect(dialog.get('[data-testid="report-submit"]').attributes('disabled')).toBeUndefined();
    await select.setValue('abuse');
    await note.setValue('threats');
    await dialog.get('[data-testid="report-submit"]').trigger('submit');
    expect(socket.last('REPORT')).toMatchObject({ sessionId: 1, reason: 'abuse', note: 'threats' });
    socket.answer('REPORT');
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'report-reason')).toHaveLength(0);
    const exit = wrapper.get('[data-testid="partner-exit"]');
    expect(exit.attributes('data-end')).toBe('reported');
    expect(exit.text()).toContain('You reported Bob');
    expect(wrapper.get('[data-testid="message-input"]').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'report-button')).toHaveLength(0);
    expect(byTestId(wrapper, 'block-button')).toHaveLength(0);
  });

  it('closes the report dialog with Escape or Cancel, sending nothing', async () => {
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="report-button"]').trigger('click');
    await wrapper.get('[role="dialog"]').trigger('keydown', { key: 'Escape' });
    expect(byTestId(wrapper, 'report-reason')).toHaveLength(0);
    await wrapper.get('[data-testid="report-button"]').trigger('click');
    const cancel = wrapper.get('[role="dialog"]').findAll('button').find((b) => b.text() === 'Cancel')!;
    await cancel.trigger('click');
    expect(byTestId(wrapper, 'report-reason')).toHaveLength(0);
    expect(socket.frames('REPORT')).toHaveLength(0);
  });

  it('sends a report with the preselected reason when the person does not change it', async () => {
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="report-button"]').trigger('click');
    await wrapper.get('[data-testid="report-submit"]').trigger('submit');
    const report = socket.last('REPORT');
    expect(report).toEqual({ cmd: 'REPORT', requestId: report.requestId, sessionId: 1, reason: 'spam' });
  });

  it('blocks with one click and says so in the window', async () => {
    const { wrapper, socket } = await mountApp(true);
    const button = wrapper.get('[data-testid="block-button"]');
    await button.trigger('click');
    expect(socket.last('BLOCK')).toMatchObject({ sessionId: 1 });
    expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
    // A second click while the first is on its way sends nothing more.
    expect(button.attributes('disabled')).toBeDefined();
    await button.trigger('click');
    expect(socket.frames('BLOCK')).toHaveLength(1);
    socket.answer('BLOCK');
    await flush();
    await wrapper.vm.$nextTick();
    const exit = wrapper.get('[data-testid="partner-exit"]');
    expect(exit.attributes('data-end')).toBe('blocked');
    expect(exit.text()).toContain('You blocked Bob — you will not be matched again.');
    expect(wrapper.get('[data-testid="message-input"]').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'block-button')).toHaveLength(0);
    expect(byTestId(wrapper, 'report-button')).toHaveLength(1); // what was said may still need it
  });

  it('keeps the window open and the button usable when the server refuses the block', async () => {
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="block-button"]').trigger('click');
    socket.fail('BLOCK', 2, 'server unavailable, retry');
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'partner-exit')).toHaveLength(0);
    expect(wrapper.get('[data-testid="block-button"]').attributes('disabled')).toBeUndefined();
    expect(wrapper.get('[data-testid="notice"]').text()).toMatch(/problem/);
  });
});

describe('what the window shows', () => {
  it('shows partner-away between PartnerAway and PartnerBack, and not after PartnerExit', async () => {
    const { wrapper, socket } = await mountApp(true);
    expect(byTestId(wrapper, 'partner-away')).toHaveLength(0);
    signal(socket, 'PartnerAway');
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="partner-away"]').text()).toContain('Bob lost the connection');
    signal(socket, 'PartnerBack');
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'partner-away')).toHaveLength(0);
    signal(socket, 'PartnerAway');
    signal(socket, 'PartnerExit');
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'partner-away')).toHaveLength(0);
  });

  it('shows common-interests only when the two share some', async () => {
    const { wrapper, socket } = await mountApp(true);
    expect(byTestId(wrapper, 'common-interests')).toHaveLength(0);
    socket.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'NewSession', senderId: 9, sessionId: 2, receiverId: ME,
      data: { accountId: 9, nickName: 'Zoe', commonInterests: ['chess', '<b>go</b>'] },
    });
    await wrapper.vm.$nextTick();
    const shared = wrapper.get('[data-session-id="2"] [data-testid="common-interests"]');
    expect(shared.text()).toContain('You both like');
    expect(shared.text()).toContain('chess');
    expect(shared.text()).toContain('<b>go</b>');
    expect(shared.find('b').exists()).toBe(false);
  });

  it('offers jump-to-latest when messages arrive while scrolled up, and jumps there', async () => {
    const { wrapper, socket } = await mountApp(true);
    const list = wrapper.get('[role="log"]');
    await scrollList(list, 800); // at the bottom: new messages are simply followed
    message(socket, 1);
    await flush();
    expect(byTestId(wrapper, 'jump-to-latest')).toHaveLength(0);

    await scrollList(list, 100);
    message(socket, 2);
    message(socket, 3);
    await flush();
    const jump = wrapper.get('[data-testid="jump-to-latest"]');
    expect(jump.text()).toContain('2 new messages');
    await jump.trigger('click');
    expect((list.element as HTMLElement).scrollTop).toBe(1000);
    expect(byTestId(wrapper, 'jump-to-latest')).toHaveLength(0);
    expect(document.activeElement).toBe(list.element);
  });

  it('hides jump-to-latest when the person scrolls down by themselves', async () => {
    const { wrapper, socket } = await mountApp(true);
    const list = wrapper.get('[role="log"]');
    await scrollList(list, 100);
    message(socket, 1);
    await flush();
    expect(byTestId(wrapper, 'jump-to-latest')).toHaveLength(1);
    await scrollList(list, 800);
    expect(byTestId(wrapper, 'jump-to-latest')).toHaveLength(0);
  });

  it('puts a message refused with code 8 back into the input, with a notice', async () => {
    const { wrapper, socket } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('wait for me');
    await input.trigger('keydown', { key: 'Enter' });
    expect((input.element as HTMLTextAreaElement).value).toBe('');
    socket.fail('DIALOGUE', 8, 'too many unread messages');
    await flush();
    await wrapper.vm.$nextTick();
    expect((input.element as HTMLTextAreaElement).value).toBe('wait for me');
    expect(byTestId(wrapper, 'message')).toHaveLength(0);
    expect(wrapper.get('[data-testid="notice"]').text()).toMatch(/Not sent/);
  });
});
