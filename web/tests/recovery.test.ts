// An account the server no longer knows (RECONNECT answers code 5 or 4: offline past the grace
// period, or logged out elsewhere): the conversations stay readable, the nickname is kept, the
// page says how long it was offline, and starting again is one step; all of it across refreshes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canSend } from '../src/store/chat';
import { flush } from './fakes';
import {
  answerEmptyHistory,
  createController,
  ME,
  pushDialogue,
  signedInStorage,
  signedInWithSession,
  TOKEN,
} from './harness';
import { DEFAULT_BACKOFF } from '../src/protocol/backoff';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

/** A chat with a message each way and one own message still unconfirmed, then the drop. */
async function expiredAfterADrop(offlineMs: number) {
  const ctx = await signedInWithSession();
  const { controller, socket, network } = ctx;
  pushDialogue(socket, 1, 'hello from them');
  controller.send('1', 'hi back');
  socket.answer('DIALOGUE', { sessionId: 1, msgId: 2 });
  await flush();
  controller.send('1', 'lost on the way');
  socket.drop();
  vi.advanceTimersByTime(offlineMs);
  vi.advanceTimersByTime(DEFAULT_BACKOFF.maxMs);
  const next = network.current;
  next.open();
  await flush();
  expect(next.last('RECONNECT')).toMatchObject({ accountId: ME, token: TOKEN });
  next.fail('RECONNECT', 5, 'unknown account or wrong token');
  await flush();
  return { ...ctx, socket: next };
}

describe('an expired account', () => {
  it('keeps the conversation readable and read-only, and the nickname', async () => {
    const { controller, storage } = await expiredAfterADrop(45_000);
    const state = controller.state;
    expect(state.account).toBeNull();
    expect(state.expired?.nickName).toBe('me');
    // How long the page was without a connection, from the drop to the refusal.
    expect(state.expired?.offlineForMs).toBeGreaterThanOrEqual(45_000);
    const session = state.sessions[0]!;
    expect(session.ended).toBe('expired');
    expect(canSend(session)).toBe(false);
    expect(session.messages.map((m) => [m.content, m.status])).toEqual([
      ['hello from them', 'sent'],
      ['hi back', 'sent'],
      ['lost on the way', 'failed'],
    ]);
    expect(session.messages[2]).toMatchObject({ retryable: false });
    expect(controller.send('1', 'anyone?')).toBe(false);
    expect(storage.getItem('pairchat.token')).toBeNull();
    expect(storage.getItem('pairchat.outbox')).toBeNull();
  });

  it("comes back the same after a refresh, from the page's own copy", async () => {
    const { storage } = await expiredAfterADrop(30_000);
    const again = createController(storage);
    again.controller.start();
    again.network.current.open();
    await flush();
    // Nothing is asked of the server for an account it does not know.
    expect(again.network.current.frames('RECONNECT')).toHaveLength(0);
    expect(again.network.current.frames('HISTORY')).toHaveLength(0);
    const state = again.controller.state;
    expect(state.expired?.nickName).toBe('me');
    expect(state.sessions.map((s) => [s.partnerName, s.ended])).toEqual([['them', 'expired']]);
    expect(state.sessions[0]!.messages.map((m) => [m.content, m.own])).toEqual([
      ['hello from them', false],
      ['hi back', true],
      ['lost on the way', true],
    ]);
  });

  it('starts again with the same nickname in one step, keeping the old conversation until closed', async () => {
    const { controller, socket, storage } = await expiredAfterADrop(30_000);
    const started = controller.startAgain();
    expect(socket.last('CRT_ACCOUNT')).toMatchObject({ nickName: 'me' });
    socket.answer('CRT_ACCOUNT', { accountId: 99, nickName: 'me', token: 'new-token' });
    expect(await started).toBe(true);
    expect(controller.state.account).toEqual({ accountId: 99, nickName: 'me' });
    expect(controller.state.expired).toBeNull();
    expect(storage.getItem('pairchat.expired')).toBeNull();
    expect(controller.state.sessions.map((s) => s.ended)).toEqual(['expired']);
    // Own messages of the old account stay own, though the new account has another id.
    expect(controller.state.sessions[0]!.messages[1]!.own).toBe(true);

    // A refresh of the new account: the old conversation comes back from the archive only.
    const again = createController(storage);
    again.controller.start();
    again.network.current.open();
    await flush();
    again.network.current.answer('RECONNECT', { accountId: 99, nickName: 'me', sessions: [] });
    await flush();
    answerEmptyHistory(again.network.current);
    expect(again.network.current.frames('HISTORY')).toHaveLength(0);
    expect(again.controller.state.sessions.map((s) => [s.partnerName, s.ended])).toEqual([['them', 'expired']]);

    // Closing it forgets it, and asks nothing of the server.
    await again.controller.close('1');
    expect(again.network.current.frames('LEAVE')).toHaveLength(0);
    expect(again.controller.state.sessions).toHaveLength(0);
    expect(storage.getItem('pairchat.archive')).toBeNull();
  });

  it('can go to the nickname screen instead, offering the old nickname', async () => {
    const { controller } = await expiredAfterADrop(30_000);
    controller.chooseAnotherNickname();
    expect(controller.state.expired).toBeNull();
    expect(controller.state.account).toBeNull();
    expect(controller.suggestedNickname).toBe('me');
    expect(controller.state.sessions).toHaveLength(1); // still there once an account exists
  });

  it('does not know how long the page was away when it only learns it on load', async () => {
    const storage = signedInStorage();
    const { controller, network } = createController(storage);
    controller.start();
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 4, 'no such account');
    await flush();
    expect(controller.state.expired).toEqual({ nickName: 'me', offlineForMs: null });
  });

  it('is forgotten, archive and all, by logging out after starting again', async () => {
    const { controller, socket, storage } = await expiredAfterADrop(30_000);
    const started = controller.startAgain();
    socket.answer('CRT_ACCOUNT', { accountId: 99, nickName: 'me', token: 'new-token' });
    await started;
    const out = controller.logout();
    socket.answer('LOGOUT');
    await out;
    expect(controller.state.sessions).toHaveLength(0);
    expect(storage.getItem('pairchat.archive')).toBeNull();
  });
});
