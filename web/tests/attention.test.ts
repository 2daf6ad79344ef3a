// Alerts while the page is hidden, opt-in: a chime and desktop notifications for new messages
// and new chats, through a recording AlertChannel; and the page title counting new chats too.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AlertChannel, DesktopNote, NotificationPermissionState } from '../src/app/attention';
import { CHIME_GAP_MS } from '../src/app/attention';
import { ChatController } from '../src/app/controller';
import { attentionCount } from '../src/store/chat';
import { FakeNetwork, flush, MemoryStorage } from './fakes';
import { answerEmptyHistory, ME, PARTNER, pushDialogue, pushSignal, signedInStorage } from './harness';

class RecordingChannel implements AlertChannel {
  chimes = 0;
  prepared = 0;
  notes: DesktopNote[] = [];
  constructor(public state: NotificationPermissionState = 'default', private readonly answer: NotificationPermissionState = 'granted') {}
  chime(): void {
    this.chimes += 1;
  }
  prepareSound(): void {
    this.prepared += 1;
  }
  permission(): NotificationPermissionState {
    return this.state;
  }
  async requestPermission(): Promise<NotificationPermissionState> {
    this.state = this.answer;
    return this.state;
  }
  notify(note: DesktopNote): void {
    this.notes.push(note);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function online(channel: AlertChannel, preferences = new MemoryStorage()) {
  const network = new FakeNetwork();
  const controller = new ChatController({
    url: 'ws://broker.test/ws',
    socketFactory: network.factory,
    storage: signedInStorage(),
    preferences,
    alerts: channel,
    heartbeatIdleMs: 0,
  });
  controller.start();
  const socket = network.current;
  socket.open();
  await flush();
  socket.answer('RECONNECT', {
    accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
  });
  await flush();
  answerEmptyHistory(socket);
  await flush();
  return { controller, socket, preferences };
}

describe('alerts', () => {
  it('are off until the person turns them on', async () => {
    const channel = new RecordingChannel();
    const { controller, socket } = await online(channel);
    controller.setDocumentVisible(false);
    pushDialogue(socket, 1, 'hello?');
    expect(channel.chimes).toBe(0);
    expect(channel.notes).toHaveLength(0);
  });

  it('chime and notify for new messages and new chats only while the page is hidden', async () => {
    const channel = new RecordingChannel();
    const { controller, socket } = await online(channel);
    controller.setSoundAlerts(true);
    expect(channel.prepared).toBe(1);
    expect(await controller.setDesktopAlerts(true)).toBe(true);
    expect(controller.state.alerts).toMatchObject({ sound: true, notify: true, permission: 'granted' });

    pushDialogue(socket, 1, 'while you look');
    expect(channel.chimes).toBe(0);
    expect(channel.notes).toHaveLength(0);

    controller.setDocumentVisible(false);
    pushDialogue(socket, 2, 'while you are away');
    expect(channel.chimes).toBe(1);
    expect(channel.notes.map((n) => [n.title, n.body, n.tag])).toEqual([['them', 'while you are away', 'pairchat-1']]);
    // A burst chimes once; every message still updates its conversation's notification.
    pushDialogue(socket, 3, 'and again');
    expect(channel.chimes).toBe(1);
    vi.advanceTimersByTime(CHIME_GAP_MS);
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'Zoe' }, 2);
    expect(channel.chimes).toBe(2);
    expect(channel.notes[channel.notes.length - 1]).toMatchObject({
      title: 'New chat on pairchat', body: 'You are now talking to Zoe.', tag: 'pairchat-2',
    });
    // A click on it brings that conversation to the front.
    channel.notes[channel.notes.length - 1]!.onClick();
    expect(controller.state.activeKey).toBe('2');
    expect(controller.state.focusKey).toBe('2');
  });

  it('keep notifications off when the browser refuses them, and remember the choices', async () => {
    const channel = new RecordingChannel('default', 'denied');
    const { controller, preferences } = await online(channel);
    controller.setSoundAlerts(true);
    expect(await controller.setDesktopAlerts(true)).toBe(false);
    expect(controller.state.alerts).toMatchObject({ sound: true, notify: false, permission: 'denied' });
    expect(JSON.parse(preferences.getItem('pairchat.alerts')!)).toEqual({ sound: true, notify: false });

    const later = await online(new RecordingChannel('granted'), preferences);
    expect(later.controller.state.alerts).toMatchObject({ sound: true, notify: false });
  });
});

describe('the title count', () => {
  it('counts a new chat nobody looked at, and its unread messages', async () => {
    const { controller, socket } = await online(new RecordingChannel());
    controller.setDocumentVisible(false);
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'Zoe' }, 2);
    expect(attentionCount(controller.state.sessions)).toBe(1);
    pushDialogue(socket, 1, 'hi', 2);
    expect(attentionCount(controller.state.sessions)).toBe(2);
    controller.setDocumentVisible(true);
    controller.setWindowInView('2', true);
    controller.setVisibleUpTo('2', 1);
    expect(attentionCount(controller.state.sessions)).toBe(0);
  });
});
