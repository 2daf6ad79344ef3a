// @vitest-environment happy-dom
// The page's experience in the views: the character counter and refusing a long message, links
// and right-to-left text, Retry / Edit / Discard on a failed message, leaving with Undo,
// the "New messages" line and read receipts from what is really on screen, the help dialog, the
// expired account's banner, and new chats in the title.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchPage } from '../src/app/browser';
import { LEAVE_UNDO_S } from '../src/app/controller';
import { flush } from './fakes';
import { byTestId, ME, mountApp, PARTNER, unmountApp } from './mount';
import type { FakeSocket } from './fakes';

/**
 * IntersectionObserver as the test decides: `show(element, true)` reports it on screen. The
 * window's observer (threshold 0.3) and the messages' observer (a list of thresholds) both land here.
 */
class FakeIntersectionObserver {
  static all: FakeIntersectionObserver[] = [];
  readonly elements = new Set<Element>();
  constructor(
    readonly callback: IntersectionObserverCallback,
    readonly options: IntersectionObserverInit = {},
  ) {
    FakeIntersectionObserver.all.push(this);
  }
  observe(element: Element): void {
    this.elements.add(element);
  }
  unobserve(element: Element): void {
    this.elements.delete(element);
  }
  disconnect(): void {
    this.elements.clear();
  }
  takeRecords(): IntersectionObserverEntry[] {
    return [];
  }
  show(element: Element, shown: boolean): void {
    const entry = {
      target: element,
      isIntersecting: shown,
      intersectionRatio: shown ? 1 : 0,
      intersectionRect: { height: shown ? 40 : 0 },
      rootBounds: { height: 800 },
    } as unknown as IntersectionObserverEntry;
    this.callback([entry], this as unknown as IntersectionObserver);
  }
  static forWindows(): FakeIntersectionObserver[] {
    return this.all.filter((o) => o.options.threshold === 0.3);
  }
  static forMessages(): FakeIntersectionObserver[] {
    return this.all.filter((o) => Array.isArray(o.options.threshold));
  }
}

beforeEach(() => {
  FakeIntersectionObserver.all = [];
  vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver);
});
afterEach(() => {
  unmountApp();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function message(socket: FakeSocket, msgId: number, content = `m${msgId}`) {
  socket.receive({ cmd: 'PUSH_DIALOGUE', senderId: PARTNER, sessionId: 1, msgId, content, createdAt: Date.now() });
}

function windowInView(inView: boolean): void {
  for (const observer of FakeIntersectionObserver.forWindows()) {
    for (const element of observer.elements) observer.show(element, inView);
  }
}

function showMessages(msgIds: number[]): void {
  for (const observer of FakeIntersectionObserver.forMessages()) {
    for (const element of observer.elements) {
      observer.show(element, msgIds.includes(Number((element as HTMLElement).dataset.msgId)));
    }
  }
}

describe('the composer', () => {
  it('counts characters near the limit and refuses a message over it, keeping the text', async () => {
    const { wrapper, socket } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('a'.repeat(100));
    expect(byTestId(wrapper, 'char-counter')).toHaveLength(0);
    await input.setValue('a'.repeat(4000));
    expect(wrapper.get('[data-testid="char-counter"]').text()).toMatch(/4,000\s*\/\s*4,096/);
    const over = '😀'.repeat(4097);
    await input.setValue(over);
    expect(wrapper.get('[data-testid="char-counter"]').attributes('data-over')).toBe('true');
    expect(wrapper.text()).toContain('Too long to send');
    expect(input.attributes('aria-invalid')).toBe('true');
    expect(wrapper.get('[data-testid="send-button"]').attributes('disabled')).toBeDefined();
    await input.trigger('keydown', { key: 'Enter' });
    await wrapper.get('form.composer').trigger('submit');
    expect(socket.frames('DIALOGUE')).toHaveLength(0);
    expect((input.element as HTMLTextAreaElement).value).toBe(over);
    expect(input.attributes('dir')).toBe('auto');
  });
});

describe('messages', () => {
  it('make http(s) addresses links that open safely, and nothing else', async () => {
    const { wrapper, socket } = await mountApp(true);
    message(socket, 1, 'docs at https://example.com/x. not javascript:alert(1)');
    await wrapper.vm.$nextTick();
    const links = byTestId(wrapper, 'message-link');
    expect(links).toHaveLength(1);
    expect(links[0]!.attributes()).toMatchObject({
      href: 'https://example.com/x',
      target: '_blank',
      rel: 'noopener noreferrer nofollow',
    });
    expect(wrapper.find('a[href^="javascript"]').exists()).toBe(false);
    const text = wrapper.get('[data-testid="message-text"]');
    expect(text.text()).toBe('docs at https://example.com/x. not javascript:alert(1)');
    expect(text.attributes('dir')).toBe('auto');
  });

  it('offer Retry and Discard when sending failed, and Edit when sending again cannot help', async () => {
    const { wrapper, socket } = await mountApp(true);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('first try');
    await input.trigger('keydown', { key: 'Enter' });
    const first = socket.last('DIALOGUE');
    socket.fail('DIALOGUE', 2, 'internal error');
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="message"]').attributes('data-status')).toBe('failed');
    expect(byTestId(wrapper, 'message-discard')).toHaveLength(1);
    await wrapper.get('[data-testid="message-retry"]').trigger('click');
    expect(socket.last('DIALOGUE').requestId).toBe(first.requestId);
    socket.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="message"]').attributes('data-status')).toBe('sent');

    await input.setValue('bad word');
    await input.trigger('keydown', { key: 'Enter' });
    socket.fail('DIALOGUE', 6, 'message refused by the content filter');
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'message-retry')).toHaveLength(0);
    await wrapper.get('[data-testid="message-edit"]').trigger('click');
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'message')).toHaveLength(1);
    expect((input.element as HTMLTextAreaElement).value).toBe('bad word');

    await input.trigger('keydown', { key: 'Enter' });
    socket.fail('DIALOGUE', 6, 'message refused by the content filter');
    await flush();
    await wrapper.vm.$nextTick();
    await wrapper.get('[data-testid="message-discard"]').trigger('click');
    expect(byTestId(wrapper, 'message')).toHaveLength(1);
  });
});

describe('leaving', () => {
  const UNDO_MS = LEAVE_UNDO_S * 1_000;

  it('leaves on one click: the window says so at once, with Undo and a countdown, and LEAVE goes out after it', async () => {
    vi.useFakeTimers();
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="leave-button"]').trigger('click');
    await flush();
    const pending = wrapper.get('[data-testid="leave-pending"]');
    expect(pending.text()).toContain('You left the chat with Bob.');
    expect(pending.get('[role="status"]').text()).toContain('You left the chat with Bob.');
    expect(wrapper.get('[data-testid="leave-countdown"]').text()).toBe(`${LEAVE_UNDO_S} s`);
    expect(document.activeElement).toBe(wrapper.get('[data-testid="leave-undo"]').element);
    expect(wrapper.get('[data-testid="message-input"]').attributes('disabled')).toBeDefined();
    expect(wrapper.get('[data-testid="leave-button"]').attributes('disabled')).toBeDefined();
    expect(socket.frames('LEAVE')).toHaveLength(0);

    vi.advanceTimersByTime(1_000);
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="leave-countdown"]').text()).toBe(`${LEAVE_UNDO_S - 1} s`);
    vi.advanceTimersByTime(UNDO_MS - 1_000);
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'leave-undo')).toHaveLength(0);
    // The cursor stays in the window, in the conversation (the composer takes nothing any more).
    expect(document.activeElement).toBe(wrapper.get('[role="log"]').element);
    socket.answer('LEAVE');
    await flush();
    await wrapper.vm.$nextTick();
    const exit = wrapper.get('[data-testid="partner-exit"]');
    expect(exit.attributes('data-end')).toBe('left');
    expect(exit.text()).toContain('You left the chat with Bob.');
    expect(byTestId(wrapper, 'leave-pending')).toHaveLength(0);
    await wrapper.get('[data-testid="close-button"]').trigger('click');
    await flush();
    expect(byTestId(wrapper, 'session-window')).toHaveLength(0);
    expect(socket.frames('LEAVE')).toHaveLength(1);
  });

  it('sends nothing when Undo is pressed in time, and puts the cursor back in the composer', async () => {
    vi.useFakeTimers();
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="leave-button"]').trigger('click');
    await flush();
    vi.advanceTimersByTime(UNDO_MS - 1);
    await wrapper.get('[data-testid="leave-undo"]').trigger('click');
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'leave-pending')).toHaveLength(0);
    const input = wrapper.get('[data-testid="message-input"]');
    expect(input.attributes('disabled')).toBeUndefined();
    expect(document.activeElement).toBe(input.element);
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE')).toHaveLength(0);
    await input.setValue('still here');
    await input.trigger('keydown', { key: 'Enter' });
    expect(socket.last('DIALOGUE')).toMatchObject({ sessionId: 1, content: 'still here' });
  });

  it('drops the leave when the partner leaves during the countdown', async () => {
    vi.useFakeTimers();
    const { wrapper, socket } = await mountApp(true);
    await wrapper.get('[data-testid="leave-button"]').trigger('click');
    socket.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'PartnerExit', senderId: PARTNER, sessionId: 1, receiverId: ME, data: { accountId: PARTNER },
    });
    await flush();
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="partner-exit"]').attributes('data-end')).toBe('partner-left');
    expect(byTestId(wrapper, 'leave-undo')).toHaveLength(0);
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE')).toHaveLength(0);
  });

  it('sends a waiting leave at once when the page goes away (pagehide)', async () => {
    const { wrapper, socket, controller } = await mountApp(true);
    const unwatch = watchPage(controller);
    try {
      await wrapper.get('[data-testid="leave-button"]').trigger('click');
      expect(socket.frames('LEAVE')).toHaveLength(0);
      window.dispatchEvent(new Event('pagehide'));
      expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    } finally {
      unwatch();
    }
  });

  it('leaves with Alt+L, from anywhere on the page', async () => {
    vi.useFakeTimers();
    const { wrapper } = await mountApp(true);
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'l', code: 'KeyL', altKey: true, bubbles: true }));
    await flush();
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'leave-pending')).toHaveLength(1);
    expect(document.activeElement).toBe(wrapper.get('[data-testid="leave-undo"]').element);
  });
});

describe('seen and new', () => {
  it('acknowledges only the partner messages on screen, and marks where the unread ones begin', async () => {
    const { wrapper, socket } = await mountApp(true);
    windowInView(false);
    message(socket, 1);
    message(socket, 2);
    message(socket, 3);
    await wrapper.vm.$nextTick();
    // Arrived while the window was not in view: the line goes before the first of them.
    const items = wrapper.get('ol.messages__list').findAll('li');
    expect(items[0]!.attributes('data-testid')).toBe('new-messages-divider');
    expect(items[0]!.text()).toBe('New messages');

    windowInView(true);
    expect(socket.frames('VIEWED_ACK')).toHaveLength(0); // the window alone is not enough
    showMessages([1, 2]);
    expect(socket.last('VIEWED_ACK')).toMatchObject({ sessionId: 1, msgId: 2 });
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="unread-count"]').text()).toBe('1');
    showMessages([3]);
    expect(socket.last('VIEWED_ACK')).toMatchObject({ msgId: 3 });
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'unread-count')).toHaveLength(0);
    // The line stays while the person reads; answering clears it.
    expect(byTestId(wrapper, 'new-messages-divider')).toHaveLength(1);
    const input = wrapper.get('[data-testid="message-input"]');
    await input.setValue('got them');
    await input.trigger('keydown', { key: 'Enter' });
    await wrapper.vm.$nextTick();
    expect(byTestId(wrapper, 'new-messages-divider')).toHaveLength(0);
  });

  it('counts a new chat in the title until it is looked at', async () => {
    const { wrapper, socket } = await mountApp(true);
    socket.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'NewSession', senderId: 9, sessionId: 4, receiverId: ME,
      data: { accountId: 9, nickName: 'Zoe' },
    });
    await wrapper.vm.$nextTick();
    expect(document.title).toBe('(1) pairchat');
    windowInView(true);
    await wrapper.vm.$nextTick();
    expect(document.title).toBe('pairchat');
  });
});

describe('help', () => {
  it('lists the shortcuts in a dialog opened by the button or Ctrl+/', async () => {
    const { wrapper } = await mountApp(true);
    const dialog = wrapper.get('[data-testid="help-dialog"]').element as HTMLDialogElement;
    expect(dialog.open).toBe(false);
    await wrapper.get('[data-testid="help-button"]').trigger('click');
    expect(dialog.open).toBe(true);
    const rows = byTestId(wrapper, 'help-shortcut').map((row) => row.text().replace(/\s+/g, ' '));
    expect(rows).toContain('Alt + NNext: end this chat and find someone new');
    await wrapper.get('[data-testid="help-close"]').trigger('click');
    expect(dialog.open).toBe(false);
    document.dispatchEvent(new KeyboardEvent('keydown', { key: '/', code: 'Slash', ctrlKey: true, bubbles: true }));
    expect(dialog.open).toBe(true);
  });
});

describe('an expired account', () => {
  it('says what happened and starts again as the same nickname in one click', async () => {
    const { wrapper, network } = await mountApp(true);
    vi.useFakeTimers();
    network.current.drop();
    vi.advanceTimersByTime(10_000);
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 5, 'unknown account or wrong token');
    await flush();
    await wrapper.vm.$nextTick();
    const banner = wrapper.get('[data-testid="expired-banner"]');
    expect(banner.text()).toMatch(/your chats have ended/);
    expect(wrapper.get('[data-testid="partner-exit"]').attributes('data-end')).toBe('expired');
    expect(byTestId(wrapper, 'logout-button')).toHaveLength(0);
    const restart = wrapper.get('[data-testid="restart-button"]');
    expect(restart.text()).toBe('Start again as me');
    await restart.trigger('click');
    expect(network.current.last('CRT_ACCOUNT')).toMatchObject({ nickName: 'me' });
  });
});
