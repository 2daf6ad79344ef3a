// The application rules end to end over a fake socket: accounts, refresh and reconnect, history,
// acks, viewed and typing, leaving and logging out.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LEAVE_UNDO_S, REBIND_DELAY_MS } from '../src/app/controller';
import { MATCH_ATTEMPTS, matchStatusText } from '../src/app/finder';
import { HISTORY_PAGE } from '../src/app/history';
import { nicknameProblem } from '../src/app/nickname';
import { TYPING_SHOWN_MS, TYPING_THROTTLE_MS } from '../src/app/typing';
import { DEFAULT_BACKOFF } from '../src/protocol/backoff';
import { canSend, unreadCount } from '../src/store/chat';
import { flush } from './fakes';
import {
  createController,
  history,
  ME,
  nobodyFree,
  PARTNER,
  pushDialogue,
  pushSignal,
  signedInStorage,
  signedInWithSession,
  TOKEN,
} from './harness';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('account', () => {
  it('creates an account with CRT_ACCOUNT and keeps its credentials for a refresh', async () => {
    const { network, controller, storage } = createController();
    controller.start();
    network.current.open();
    await flush();
    expect(controller.state.account).toBeNull();
    const created = controller.createAccount('  Ada  ');
    expect(network.current.last('CRT_ACCOUNT')).toMatchObject({ nickName: 'Ada' });
    network.current.answer('CRT_ACCOUNT', { accountId: ME, nickName: 'Ada', token: TOKEN });
    expect(await created).toBe(true);
    expect(controller.state.account).toEqual({ accountId: ME, nickName: 'Ada' });
    expect(storage.getItem('pairchat.accountId')).toBe(String(ME));
    expect(storage.getItem('pairchat.token')).toBe(TOKEN);
    expect(storage.getItem('pairchat.nickName')).toBe('Ada');
  });

  it('refuses an empty or over-long nickname without asking the server', async () => {
    const { network, controller } = createController();
    controller.start();
    network.current.open();
    await flush();
    expect(await controller.createAccount('   ')).toBe(false);
    expect(await controller.createAccount('x'.repeat(33))).toBe(false);
    expect(network.current.frames('CRT_ACCOUNT')).toHaveLength(0);
    expect(controller.notices.notices.length).toBeGreaterThan(0);
  });

  it('checks nicknames by the server\'s rules: 1-32 characters after trimming, no control or format characters', () => {
    expect(nicknameProblem('  ada  ')).toBeNull();
    expect(nicknameProblem('😀'.repeat(32))).toBeNull(); // counted in code points, like the server
    expect(nicknameProblem('😀'.repeat(33))).not.toBeNull();
    for (const bad of ['a\u0007b', 'a\u200bb', 'a\u2028b', 'a\u0085b', '\t\n', 'a\u202eb', 'a\u2066b']) {
      expect(nicknameProblem(bad)).not.toBeNull();
    }
    // emoji sequences joined by ZWJ, and tag sequences (the England flag), are the server's to judge
    for (const good of ['Zoé 👨\u200d👩\u200d👧', '🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', '👍🏽 🇫🇷 1️⃣']) {
      expect(nicknameProblem(good)).toBeNull();
    }
  });

  it('logs out with LOGOUT, forgets the credentials and starts over on a fresh connection', async () => {
    const { controller, socket, storage, network } = await signedInWithSession();
    const done = controller.logout();
    expect(socket.last('LOGOUT')).toMatchObject({ accountId: ME });
    socket.answer('LOGOUT');
    await done;
    expect(controller.state.account).toBeNull();
    expect(controller.state.sessions).toHaveLength(0);
    expect(storage.data.size).toBe(0);
    expect(socket.closed).toBe(true);
    expect(network.sockets).toHaveLength(2);
    network.current.open();
    await flush();
    expect(network.current.frames('RECONNECT')).toHaveLength(0);
  });
});

describe('refresh and reconnect', () => {
  it('reconnects with the stored token and restores every conversation with its history, paging until a short page', async () => {
    const { network, controller } = createController(signedInStorage());
    expect(controller.state.account).toEqual({ accountId: ME, nickName: 'me' });
    controller.start();
    const socket = network.current;
    socket.open();
    await flush();
    expect(socket.last('RECONNECT')).toMatchObject({ accountId: ME, token: TOKEN });
    socket.answer('RECONNECT', {
      accountId: ME,
      nickName: 'me',
      sessions: [
        { sessionId: 1, partnerId: PARTNER, partnerName: 'them' },
        { sessionId: 2, partnerId: 9, partnerName: 'other' },
      ],
    });
    await flush();
    expect(controller.state.sessions.map((s) => s.partnerName)).toEqual(['them', 'other']);
    const [first, second] = socket.frames('HISTORY');
    expect(first).toMatchObject({ sessionId: 1, afterMsgId: 0, limit: HISTORY_PAGE });
    expect(second).toMatchObject({ sessionId: 2, afterMsgId: 0, limit: HISTORY_PAGE });

    // Session 1 has 250 messages: a full page, then the rest.
    socket.answer('HISTORY', { sessionId: 1, messages: history(1, 200) }, first);
    socket.answer('HISTORY', { sessionId: 2, messages: history(1, 3, 9) }, second);
    await flush();
    const next = socket.frames('HISTORY')[2]!;
    expect(next).toMatchObject({ sessionId: 1, afterMsgId: 200, limit: HISTORY_PAGE });
    // A push overlapping the history arrives meanwhile.
    pushDialogue(socket, 201);
    socket.answer('HISTORY', { sessionId: 1, messages: history(195, 250) }, next);
    await flush();
    expect(socket.frames('HISTORY')).toHaveLength(3);
    const ids = controller.state.sessions[0]!.messages.map((m) => m.msgId);
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(controller.state.sessions[1]!.messages).toHaveLength(3);
  });

  it('forgets the credentials but keeps the nickname when RECONNECT answers code 5', async () => {
    const storage = signedInStorage();
    const { network, controller } = createController(storage);
    controller.start();
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 5, 'unknown account or wrong token');
    await flush();
    expect(controller.state.account).toBeNull();
    expect(controller.state.expired).toEqual({ nickName: 'me', offlineForMs: null });
    expect(storage.getItem('pairchat.token')).toBeNull();
    expect(JSON.parse(storage.getItem('pairchat.expired')!)).toEqual({ nickName: 'me', offlineForMs: null });
    expect(controller.state.connection).toBe('online');
  });

  it('after a drop, reconnects, RECONNECTs and re-sends an unanswered message with the same requestId, showing it once', async () => {
    const { controller, socket, network } = await signedInWithSession();
    expect(controller.send('1', 'hello')).toBe(true);
    const original = socket.last('DIALOGUE');
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ status: 'pending', content: 'hello' });
    socket.drop();
    expect(controller.state.connection).toBe('reconnecting');
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    const next = network.current;
    expect(next).not.toBe(socket);
    next.open();
    await flush();
    expect(next.last('RECONNECT')).toMatchObject({ accountId: ME, token: TOKEN });
    next.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
    });
    await flush();
    const replayed = next.last('DIALOGUE');
    expect(replayed).toMatchObject({ requestId: original.requestId, content: 'hello', senderId: ME, sessionId: 1 });
    // The message was in fact stored before the drop: the server answers with its first msgId,
    // and history (requested after the re-send) brings it too.
    next.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    next.answer('HISTORY', { sessionId: 1, messages: [{ msgId: 1, senderId: ME, content: 'hello', createdAt: 1 }] });
    await flush();
    const messages = controller.state.sessions[0]!.messages;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ msgId: 1, status: 'sent', own: true });
  });

  it('re-sends a message left unconfirmed by a page refresh under its original requestId', async () => {
    const outbox = JSON.stringify([{ requestId: 'old-page-1', sessionId: 1, content: 'in flight', createdAt: 42 }]);
    const { network, controller } = createController(signedInStorage({ 'pairchat.outbox': outbox }));
    controller.start();
    const socket = network.current;
    socket.open();
    await flush();
    socket.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
    });
    await flush();
    expect(socket.sent.filter((f) => f.code === undefined).map((f) => f.cmd)).toEqual(['RECONNECT', 'DIALOGUE', 'HISTORY']);
    expect(socket.last('DIALOGUE')).toMatchObject({ requestId: 'old-page-1', content: 'in flight' });
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ status: 'pending', content: 'in flight' });
    socket.answer('DIALOGUE', { sessionId: 1, msgId: 3 });
    await flush();
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ msgId: 3, status: 'sent' });
  });

  it('keeps the seen marks and read state of a conversation across a refresh', async () => {
    const first = await signedInWithSession();
    first.controller.send('1', 'hi');
    first.socket.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    pushDialogue(first.socket, 2);
    first.controller.setVisibleUpTo('1', 2);
    pushSignal(first.socket, 'ViewedAck', { accountId: PARTNER, msgId: 1 });

    // The same tab loads again: a new controller on the same storage.
    const { network, controller } = createController(first.storage);
    controller.start();
    const socket = network.current;
    socket.open();
    await flush();
    socket.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
    });
    await flush();
    socket.answer('HISTORY', {
      sessionId: 1,
      messages: [
        { msgId: 1, senderId: ME, content: 'hi', createdAt: 1 },
        { msgId: 2, senderId: PARTNER, content: 'm2', createdAt: 2 },
      ],
    });
    await flush();
    const session = controller.state.sessions[0]!;
    expect(session.partnerSeenUpTo).toBe(1);
    expect(session.viewedUpTo).toBe(2);
    expect(unreadCount(session)).toBe(0);
  });

  it('brings back, after a refresh, a conversation that ended meanwhile: readable, in its place, not writable', async () => {
    const windows = JSON.stringify([
      { sessionId: 1, partnerId: PARTNER, partnerName: 'them', ended: null },
      { sessionId: 2, partnerId: 9, partnerName: 'gone', ended: 'partner-left' },
      { sessionId: 3, partnerId: 10, partnerName: 'third', ended: null },
    ]);
    const storage = signedInStorage({ 'pairchat.windows': windows });
    const { network, controller } = createController(storage);
    controller.start();
    const socket = network.current;
    socket.open();
    await flush();
    socket.answer('RECONNECT', {
      accountId: ME,
      nickName: 'me',
      sessions: [
        { sessionId: 1, partnerId: PARTNER, partnerName: 'them' },
        { sessionId: 4, partnerId: 11, partnerName: 'new' },
      ],
    });
    await flush();
    const sessions = controller.state.sessions;
    expect(sessions.map((s) => [s.partnerName, s.ended])).toEqual([
      ['them', null],
      ['gone', 'partner-left'],
      ['third', 'closed'],
      ['new', null],
    ]);
    expect(socket.frames('HISTORY').map((f) => f.sessionId).sort()).toEqual([1, 2, 3, 4]);
    const gone = socket.frames('HISTORY').find((f) => f.sessionId === 2)!;
    socket.answer('HISTORY', { sessionId: 2, messages: history(1, 2, 9) }, gone);
    await flush();
    expect(sessions[1]!.messages.map((m) => m.content)).toEqual(['m1', 'm2']);
    expect(canSend(sessions[1]!)).toBe(false);
    // Closing it forgets it for the next refresh too.
    await controller.close('2');
    expect(socket.frames('LEAVE')).toHaveLength(0);
    const saved = JSON.parse(storage.getItem('pairchat.windows') ?? '[]') as { sessionId: number }[];
    expect(saved.map((w) => w.sessionId)).toEqual([1, 3, 4]);
  });

  it('marks a window ended when the server no longer lists its session after a reconnect', async () => {
    const { controller, socket, network } = await signedInWithSession();
    socket.drop();
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: ME, nickName: 'me', sessions: [] });
    await flush();
    expect(controller.state.sessions[0]!.ended).toBe('closed');
    expect(canSend(controller.state.sessions[0]!)).toBe(false);
  });
});

describe('pushes', () => {
  it('acknowledges every push, including duplicates, and shows each message once', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1, 'first');
    pushDialogue(socket, 1, 'first');
    pushDialogue(socket, 2, 'second');
    expect(controller.state.sessions[0]!.messages.map((m) => m.content)).toEqual(['first', 'second']);
    expect(socket.frames('PUSH_DIALOGUE')).toEqual([
      { cmd: 'PUSH_DIALOGUE', code: 0, sessionId: 1, msgId: 1 },
      { cmd: 'PUSH_DIALOGUE', code: 0, sessionId: 1, msgId: 1 },
      { cmd: 'PUSH_DIALOGUE', code: 0, sessionId: 1, msgId: 2 },
    ]);
  });

  it('opens a window for a NewSession push', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'newcomer' }, 5);
    expect(controller.state.sessions.map((s) => s.partnerName)).toEqual(['them', 'newcomer']);
    expect(socket.frames('PUSH_SIGNAL')).toContainEqual({
      cmd: 'PUSH_SIGNAL', code: 0, sessionId: 5, signalType: 'NewSession',
    });
  });

  it('disables the input when the partner exits, keeping the conversation readable', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1, 'bye');
    pushSignal(socket, 'PartnerExit', { accountId: PARTNER });
    const session = controller.state.sessions[0]!;
    expect(session.ended).toBe('partner-left');
    expect(canSend(session)).toBe(false);
    expect(session.messages).toHaveLength(1);
    expect(controller.send('1', 'anyone?')).toBe(false);
    expect(socket.frames('DIALOGUE')).toHaveLength(0);
  });

  it('keeps markup in a message as plain text', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1, '<img src=x onerror=alert(1)>');
    expect(controller.state.sessions[0]!.messages[0]!.content).toBe('<img src=x onerror=alert(1)>');
  });

  it('marks own messages seen on ViewedAck', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.send('1', 'hi');
    socket.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    pushSignal(socket, 'ViewedAck', { accountId: PARTNER, msgId: 1 });
    expect(controller.state.sessions[0]!.partnerSeenUpTo).toBe(1);
  });

  it('shows the partner typing for a few seconds after a Typing signal', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'Typing', { accountId: PARTNER });
    expect(controller.state.sessions[0]!.partnerTyping).toBe(true);
    vi.advanceTimersByTime(TYPING_SHOWN_MS - 100);
    expect(controller.state.sessions[0]!.partnerTyping).toBe(true);
    vi.advanceTimersByTime(100);
    expect(controller.state.sessions[0]!.partnerTyping).toBe(false);
  });
});

describe('viewed and typing', () => {
  it('sends VIEWED_ACK only up to the partner message on screen, and only while the page is visible', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1);
    pushDialogue(socket, 2);
    pushDialogue(socket, 3);
    expect(socket.frames('VIEWED_ACK')).toHaveLength(0);
    expect(controller.state.sessions[0]!.viewedUpTo).toBe(0);

    // A window in view is not enough: the messages themselves must be on screen.
    controller.setWindowInView('1', true);
    expect(socket.frames('VIEWED_ACK')).toHaveLength(0);
    // Scrolled up: the first two show, the third is below the fold.
    controller.setVisibleUpTo('1', 2);
    expect(socket.last('VIEWED_ACK')).toMatchObject({ sessionId: 1, msgId: 2 });
    expect(unreadCount(controller.state.sessions[0]!)).toBe(1);
    controller.setVisibleUpTo('1', 3);
    expect(socket.last('VIEWED_ACK')).toMatchObject({ msgId: 3 });
    // Scrolling back up does not take anything back.
    controller.setVisibleUpTo('1', 1);
    expect(socket.frames('VIEWED_ACK')).toHaveLength(2);

    controller.setDocumentVisible(false);
    pushDialogue(socket, 4);
    controller.setVisibleUpTo('1', 4);
    expect(socket.frames('VIEWED_ACK')).toHaveLength(2);
    controller.setDocumentVisible(true);
    expect(socket.last('VIEWED_ACK')).toMatchObject({ msgId: 4 });
    expect(socket.frames('VIEWED_ACK')).toHaveLength(3);
  });

  it('sends TYPING at most once per throttle interval', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.typing('1', 'h');
    controller.typing('1', 'he');
    controller.typing('1', 'hel');
    expect(socket.frames('TYPING')).toHaveLength(1);
    vi.advanceTimersByTime(TYPING_THROTTLE_MS);
    controller.typing('1', 'hell');
    expect(socket.frames('TYPING')).toHaveLength(2);
  });
});

describe('conversations', () => {
  it('opens a window per MATCH and focuses it', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    expect(controller.state.matchesInFlight).toBe(1);
    socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'new' });
    await match;
    expect(controller.state.sessions.map((s) => s.key)).toEqual(['1', '2']);
    expect(controller.state.activeKey).toBe('2');
    expect(controller.state.focusKey).toBe('2');
    expect(controller.state.matchesInFlight).toBe(0);
  });

  it('tells the person when nobody is available (code 4 on every attempt), beside the button', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    await nobodyFree(socket);
    await match;
    expect(socket.frames('MATCH')).toHaveLength(MATCH_ATTEMPTS);
    expect(controller.state.match.phase).toBe('none-free');
    expect(matchStatusText(controller.state.match)).toBe('No one is free right now.');
  });

  it('marks a message failed with a readable reason on code 2, and retries it under the same requestId', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.send('1', 'fast');
    const first = socket.last('DIALOGUE');
    socket.fail('DIALOGUE', 2, 'internal error');
    await flush();
    const message = controller.state.sessions[0]!.messages[0]!;
    expect(message).toMatchObject({ status: 'failed', retryable: true });
    expect(controller.notices.notices[0]!.text).toBe('The server had a problem. Please try again.');
    controller.retry('1', message.requestId!);
    expect(socket.last('DIALOGUE').requestId).toBe(first.requestId);
    socket.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ status: 'sent', msgId: 1 });
  });

  it('refuses a message over 4096 code points before sending it, keeping it for the composer', async () => {
    const { controller, socket } = await signedInWithSession();
    expect(controller.send('1', '😀'.repeat(4096))).toBe(true); // 4096 code points, 8192 UTF-16 units
    expect(controller.send('1', 'x'.repeat(4097))).toBe(false);
    expect(socket.frames('DIALOGUE')).toHaveLength(1);
    expect(controller.state.sessions[0]!.messages).toHaveLength(1);
  });

  it('puts a message a stricter server refuses as too large (code 9) back into the composer and learns its limit', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.setDraft('1', '');
    expect(controller.send('1', 'x'.repeat(100))).toBe(true);
    socket.fail('DIALOGUE', 9, 'content is over 50 characters');
    await flush();
    expect(controller.state.sessions[0]!.messages).toHaveLength(0);
    expect(controller.state.sessions[0]!.draft).toBe('x'.repeat(100));
    expect(controller.state.maxContent).toBe(50);
    expect(controller.notices.notices[0]!.text).toMatch(/longer than the server takes/);
    expect(controller.send('1', 'x'.repeat(51))).toBe(false);
    expect(socket.frames('DIALOGUE')).toHaveLength(1);
  });

  it('keeps a message refused with code 5 pending while another tab holds the account, and sends it on resume', async () => {
    const { controller, socket, network } = await signedInWithSession();
    controller.send('1', 'are you there?');
    const first = socket.last('DIALOGUE');
    socket.fail('DIALOGUE', 5, 'not logged in');
    socket.drop(4000, 'account connected elsewhere');
    await flush();
    expect(controller.state.superseded).toBe(true);
    expect(controller.state.connection).toBe('offline');
    expect(controller.state.sessions[0]!.messages[0]!.status).toBe('pending');
    vi.advanceTimersByTime(30_000);
    expect(network.sockets).toHaveLength(1);
    expect(controller.notices.notices).toHaveLength(0);

    controller.resume();
    const next = network.current;
    next.open();
    await flush();
    next.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
    });
    await flush();
    expect(next.last('DIALOGUE').requestId).toBe(first.requestId);
    next.answer('DIALOGUE', { sessionId: 1, msgId: 1 });
    await flush();
    expect(controller.state.sessions[0]!.messages[0]).toMatchObject({ status: 'sent', msgId: 1 });
    expect(controller.state.superseded).toBe(false);
  });

  it('reconnects when code 5 says the binding was lost and no takeover close follows', async () => {
    const { controller, socket, network } = await signedInWithSession();
    const match = controller.match();
    socket.fail('MATCH', 5, 'not logged in');
    await match;
    expect(network.sockets).toHaveLength(1);
    vi.advanceTimersByTime(REBIND_DELAY_MS);
    expect(socket.closed).toBe(true);
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    expect(network.sockets).toHaveLength(2);
  });
});

describe('leaving: one click, undo for a few seconds', () => {
  const UNDO_MS = LEAVE_UNDO_S * 1_000;

  it('shows the window as left at once and sends LEAVE once the undo time is over; the window stays until closed', async () => {
    const { controller, socket } = await signedInWithSession();
    pushDialogue(socket, 1, 'bye');
    controller.leave('1');
    const session = controller.state.sessions[0]!;
    expect(session.leaveCountdown).toBe(LEAVE_UNDO_S);
    expect(canSend(session)).toBe(false);
    expect(controller.send('1', 'one more')).toBe(false);
    vi.advanceTimersByTime(UNDO_MS - 1);
    expect(session.leaveCountdown).toBe(1);
    expect(socket.frames('LEAVE')).toHaveLength(0);

    vi.advanceTimersByTime(1);
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    expect(session.leaveCountdown).toBeNull();
    expect(canSend(session)).toBe(false);
    socket.answer('LEAVE');
    await flush();
    expect(session.ended).toBe('left');
    // Readable until closed; later pushes for it are acknowledged and ignored.
    pushDialogue(socket, 2, 'too late');
    expect(session.messages.map((m) => m.content)).toEqual(['bye']);
    expect(socket.frames('PUSH_DIALOGUE')).toHaveLength(2);
    await controller.close('1');
    expect(controller.state.sessions).toHaveLength(0);
    expect(socket.frames('LEAVE')).toHaveLength(1);
  });

  it('sends nothing when undone in time, and the chat goes on', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.leave('1');
    vi.advanceTimersByTime(UNDO_MS - 1);
    expect(controller.undoLeave('1')).toBe(true);
    const session = controller.state.sessions[0]!;
    expect(session.leaveCountdown).toBeNull();
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE')).toHaveLength(0);
    expect(controller.undoLeave('1')).toBe(false);
    expect(controller.send('1', 'still here')).toBe(true);
    expect(socket.last('DIALOGUE')).toMatchObject({ sessionId: 1, content: 'still here' });
  });

  it('drops the leave when the partner leaves first: nothing is sent, the window says they left', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.leave('1');
    pushSignal(socket, 'PartnerExit', { accountId: PARTNER });
    const session = controller.state.sessions[0]!;
    expect(session).toMatchObject({ ended: 'partner-left', leaveCountdown: null });
    vi.advanceTimersByTime(10 * UNDO_MS);
    controller.sendPendingLeaves();
    expect(socket.frames('LEAVE')).toHaveLength(0);
  });

  it('sends a waiting leave at once when the page is hidden, once only', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.leave('1');
    controller.setDocumentVisible(false);
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    expect(controller.undoLeave('1')).toBe(false);
    socket.answer('LEAVE');
    await flush();
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE')).toHaveLength(1);
    expect(controller.state.sessions[0]!.ended).toBe('left');
  });

  it('sends a waiting leave before LOGOUT', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.leave('1');
    const done = controller.logout();
    expect(socket.sent.map((f) => f.cmd).filter((cmd) => cmd === 'LEAVE' || cmd === 'LOGOUT')).toEqual([
      'LEAVE',
      'LOGOUT',
    ]);
    socket.answer('LEAVE');
    socket.answer('LOGOUT');
    await done;
    expect(controller.state.account).toBeNull();
  });

  it('counts down every window on its own', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'other' }, 2);
    controller.leave('1');
    vi.advanceTimersByTime(1_000);
    controller.leave('2');
    vi.advanceTimersByTime(UNDO_MS - 1_000);
    expect(socket.frames('LEAVE').map((f) => f.sessionId)).toEqual([1]);
    expect(controller.state.sessions.map((s) => s.leaveCountdown)).toEqual([null, 1]);
    controller.undoLeave('2');
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE').map((f) => f.sessionId)).toEqual([1]);
    expect(controller.send('2', 'hello')).toBe(true);
  });

  it('leaves at once on Next or a report while the undo time runs, LEAVE going first', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'other' }, 2);
    controller.leave('1');
    const report = controller.reportPartner('1', 'spam', '');
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 1 });
    expect(socket.frames('REPORT')).toHaveLength(0);
    socket.answer('LEAVE');
    await flush();
    socket.answer('REPORT');
    expect(await report).toBe(true);
    expect(controller.state.sessions[0]!.ended).toBe('reported');

    controller.leave('2');
    const next = controller.next('2');
    expect(socket.last('LEAVE')).toMatchObject({ sessionId: 2 });
    socket.answer('LEAVE');
    await flush();
    expect(socket.frames('MATCH')).toHaveLength(1);
    socket.answer('MATCH', { sessionId: 3, partnerId: 10, partnerName: 'new' });
    await next;
    vi.advanceTimersByTime(10 * UNDO_MS);
    expect(socket.frames('LEAVE')).toHaveLength(2);
  });
});
