// Protocol 1.1 inside a conversation and around it: next, report, block, the partner away, the
// limits (code 8 keeps the text) and bans (code 10 is said plainly and never retried in a loop).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canSend } from '../src/store/chat';
import { flush } from './fakes';
import {
  answerEmptyHistory,
  createController,
  ME,
  nobodyFree,
  PARTNER,
  pushDialogue,
  pushSignal,
  signedInStorage,
  signedInWithSession,
  texts,
} from './harness';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('next', () => {
  it('leaves the conversation with LEAVE, then looks for someone new with MATCH, keeping the ended one readable', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1, 'bye');
    const next = controller.next('1');
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    expect(socket.frames('MATCH')).toHaveLength(0);
    socket.answer('LEAVE');
    await flush();
    expect(controller.state.sessions[0]).toMatchObject({ key: '1', ended: 'left' });
    expect(controller.state.sessions[0]!.messages.map((m) => m.content)).toEqual(['bye']);
    expect(socket.last('MATCH')).toMatchObject({ accountId: ME });
    // The search shows in the window that started it.
    expect(controller.state.match).toMatchObject({ phase: 'anyone', origin: '1' });
    socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'new' });
    await next;
    expect(controller.state.sessions.map((s) => [s.key, s.ended])).toEqual([['1', 'left'], ['2', null]]);
    expect(controller.state.activeKey).toBe('2');
    // Closing the ended one sends nothing more.
    await controller.close('1');
    expect(socket.frames('LEAVE')).toHaveLength(1);
    expect(controller.state.sessions.map((s) => s.key)).toEqual(['2']);
  });

  it('only searches from a window that had already ended, and never starts a second search', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'PartnerExit', { accountId: PARTNER });
    const next = controller.next('1');
    expect(socket.frames('LEAVE')).toHaveLength(0);
    expect(socket.frames('MATCH')).toHaveLength(1);
    void controller.next('1');
    void controller.match();
    expect(socket.frames('MATCH')).toHaveLength(1);
    socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'new' });
    await next;
    expect(controller.state.sessions).toHaveLength(2);
  });

  it('does not search if leaving failed', async () => {
    const { controller, socket } = await signedInWithSession();
    const next = controller.next('1');
    socket.fail('LEAVE', 2, 'internal');
    await next;
    expect(socket.frames('MATCH')).toHaveLength(0);
    expect(controller.state.sessions).toHaveLength(1);
  });
});

describe('report and block', () => {
  it('sends REPORT with the reason and the trimmed note, then shows the chat as ended by this person', async () => {
    const { controller, socket } = await signedInWithSession();
    const report = controller.reportPartner('1', 'abuse', '  called me names  ');
    expect(socket.last('REPORT')).toEqual({
      cmd: 'REPORT', requestId: socket.last('REPORT').requestId, sessionId: 1, reason: 'abuse', note: 'called me names',
    });
    socket.answer('REPORT');
    expect(await report).toBe(true);
    const session = controller.state.sessions[0]!;
    expect(session.ended).toBe('reported');
    expect(canSend(session)).toBe(false);
    expect(texts(controller.notices.notices)).toEqual(['Thank you. Your report about them was sent to the moderators.']);
    // Reported once is enough: the window offers no second report.
    expect(await controller.reportPartner('1', 'spam', '')).toBe(false);
    expect(socket.frames('REPORT')).toHaveLength(1);
  });

  it('leaves out an empty note', async () => {
    const { controller, socket } = await signedInWithSession();
    void controller.reportPartner('1', 'spam', '   ');
    expect(socket.last('REPORT')).not.toHaveProperty('note');
  });

  it('re-sends a REPORT cut off by a dropped connection under the same requestId', async () => {
    const { controller, socket, network } = await signedInWithSession();
    const report = controller.reportPartner('1', 'other', '');
    const first = socket.last('REPORT');
    socket.drop();
    vi.advanceTimersToNextTimer();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
    });
    await flush();
    expect(network.current.last('REPORT').requestId).toBe(first.requestId);
    network.current.answer('REPORT');
    expect(await report).toBe(true);
  });

  it('can still report after the partner left', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'PartnerExit', { accountId: PARTNER });
    const report = controller.reportPartner('1', 'sexual', '');
    socket.answer('REPORT');
    expect(await report).toBe(true);
    expect(controller.state.sessions[0]!.ended).toBe('reported');
  });

  it('keeps the window open and says why when a report is refused', async () => {
    const { controller, socket } = await signedInWithSession();
    const report = controller.reportPartner('1', 'spam', '');
    socket.fail('REPORT', 3, 'unknown command');
    expect(await report).toBe(false);
    expect(controller.state.sessions[0]!.ended).toBeNull();
    expect(texts(controller.notices.notices)).toEqual(['This server does not support that yet.']);
  });

  it('sends BLOCK and shows the chat as ended by this person', async () => {
    const { controller, socket } = await signedInWithSession();
    const block = controller.blockPartner('1');
    expect(socket.last('BLOCK')).toEqual({ cmd: 'BLOCK', requestId: socket.last('BLOCK').requestId, sessionId: 1 });
    socket.answer('BLOCK');
    expect(await block).toBe(true);
    expect(controller.state.sessions[0]!.ended).toBe('blocked');
  });

  it('keeps reported and blocked windows, and what they shared, across a refresh', async () => {
    const first = await signedInWithSession();
    const match = first.controller.match();
    first.socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'z', commonInterests: ['go'] });
    await match;
    const report = first.controller.reportPartner('1', 'spam', '');
    first.socket.answer('REPORT');
    await report;

    const { network, controller } = createController(first.storage);
    controller.start();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 2, partnerId: 9, partnerName: 'z' }],
    });
    await flush();
    expect(controller.state.sessions.map((s) => [s.key, s.ended, s.commonInterests])).toEqual([
      ['1', 'reported', []],
      ['2', null, ['go']],
    ]);
  });
});

describe('partner away', () => {
  it('shows the partner away on PartnerAway until PartnerBack, and acknowledges both', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'PartnerAway', { accountId: PARTNER });
    expect(controller.state.sessions[0]!.partnerAway).toBe(true);
    pushSignal(socket, 'PartnerBack', { accountId: PARTNER });
    expect(controller.state.sessions[0]!.partnerAway).toBe(false);
    expect(socket.frames('PUSH_SIGNAL')).toEqual([
      { cmd: 'PUSH_SIGNAL', code: 0, sessionId: 1, signalType: 'PartnerAway' },
      { cmd: 'PUSH_SIGNAL', code: 0, sessionId: 1, signalType: 'PartnerBack' },
    ]);
  });

  it('stops showing the partner away once they left for good', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'PartnerAway', { accountId: PARTNER });
    pushSignal(socket, 'PartnerExit', { accountId: PARTNER });
    expect(controller.state.sessions[0]).toMatchObject({ partnerAway: false, ended: 'partner-left' });
  });
});

describe('limits', () => {
  it('puts a message refused with code 8 back into the composer, with a notice', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.send('1', 'hello?');
    socket.fail('DIALOGUE', 8, 'too many unread messages');
    await flush();
    const session = controller.state.sessions[0]!;
    expect(session.messages).toHaveLength(0);
    expect(session.draft).toBe('hello?');
    expect(texts(controller.notices.notices)[0]).toMatch(/Not sent.*back in the box/);
    // Sending it again is a new message with a new requestId.
    controller.send('1', session.draft);
    expect(socket.frames('DIALOGUE')).toHaveLength(2);
  });
});

describe('bans', () => {
  it('shows the moderators\' words plainly when a request gets code 10', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    socket.fail('MATCH', 10, 'suspended until 2030-01-01 12:00 UTC');
    await match;
    expect(texts(controller.notices.notices)).toEqual(['suspended until 2030-01-01 12:00 UTC']);
    expect(controller.state.banned).toBe('suspended until 2030-01-01 12:00 UTC');
  });

  it('marks a message refused with code 10 failed for good', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.send('1', 'hi');
    socket.fail('DIALOGUE', 10, 'banned');
    await flush();
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ status: 'failed', retryable: false });
  });

  it('does not retry a RECONNECT refused with code 10 until the person asks, once per ask', async () => {
    const { network, controller } = createController(signedInStorage());
    controller.start();
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 10, 'banned for good');
    await flush();
    expect(controller.state.banned).toBe('banned for good');
    expect(controller.state.connection).toBe('offline');
    expect(controller.state.account).not.toBeNull(); // the account is kept: a ban may be lifted
    vi.advanceTimersByTime(10 * 60_000);
    expect(network.sockets).toHaveLength(1);

    controller.tryAgainAfterBan();
    expect(network.sockets).toHaveLength(2);
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 10, 'banned for good');
    await flush();
    vi.advanceTimersByTime(10 * 60_000);
    expect(network.sockets).toHaveLength(2);

    controller.tryAgainAfterBan();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: ME, nickName: 'me', sessions: [] });
    await flush();
    expect(controller.state.banned).toBeNull();
    expect(controller.state.connection).toBe('online');
  });

  it('logs out of a banned account without waiting for a connection that will not come', async () => {
    const { network, controller, storage } = createController(signedInStorage());
    controller.start();
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 10, 'banned');
    await flush();
    await controller.logout();
    expect(controller.state.account).toBeNull();
    expect(controller.state.banned).toBeNull();
    expect(storage.data.size).toBe(0);
    expect(network.sockets).toHaveLength(2); // a fresh connection for the nickname screen
  });

  it('says so when a banned address may not create an account', async () => {
    const { network, controller } = createController();
    controller.start();
    network.current.open();
    await flush();
    const created = controller.createAccount('ada');
    network.current.fail('CRT_ACCOUNT', 10, 'this address is banned');
    expect(await created).toBe(false);
    expect(texts(controller.notices.notices)).toEqual(['this address is banned']);
    expect(controller.state.banned).toBe('this address is banned');
  });
});

describe('version 1 servers', () => {
  it('works with a server that sends none of the new fields', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'old' }, 3);
    answerEmptyHistory(socket);
    pushDialogue(socket, 1, 'hi', 3);
    expect(controller.state.sessions[1]).toMatchObject({ commonInterests: [], partnerAway: false });
    const match = controller.match();
    await nobodyFree(socket);
    await match;
    expect(controller.state.match).toMatchObject({ phase: 'none-free', online: null });
  });
});
