// A ChatController on a fake socket, signed in or not, and the server frames the tests send it.
import { vi } from 'vitest';
import { ChatController } from '../src/app/controller';
import { MATCH_ATTEMPTS, MATCH_RETRY_PAUSE_MS } from '../src/app/finder';
import { FakeNetwork, flush, MemoryStorage, type FakeSocket, type Frame } from './fakes';

export const ME = 7;
export const PARTNER = 8;
export const TOKEN = 'secret-token';

/** The texts of notices, in order. */
export const texts = (notices: { text: string }[]) => notices.map((n) => n.text);

/** `preferences` stands for localStorage (what the browser keeps across tabs and visits). */
export function createController(storage = new MemoryStorage(), preferences = new MemoryStorage()) {
  const network = new FakeNetwork();
  const controller = new ChatController({
    url: 'ws://broker.test/ws',
    socketFactory: network.factory,
    storage,
    preferences,
    random: () => 0,
    heartbeatIdleMs: 0,
  });
  return { network, controller, storage, preferences };
}

/** Storage as a previous page load of this tab left it. */
export function signedInStorage(extra: Record<string, string> = {}): MemoryStorage {
  const storage = new MemoryStorage();
  storage.setItem('pairchat.accountId', String(ME));
  storage.setItem('pairchat.token', TOKEN);
  storage.setItem('pairchat.nickName', 'me');
  for (const [key, value] of Object.entries(extra)) storage.setItem(key, value);
  return storage;
}

export function history(from: number, to: number, senderId = PARTNER) {
  const messages = [];
  for (let id = from; id <= to; id += 1) {
    messages.push({ msgId: id, senderId, content: `m${id}`, createdAt: 1_000 + id });
  }
  return messages;
}

export function pushDialogue(socket: FakeSocket, msgId: number, content = `m${msgId}`, sessionId: unknown = 1) {
  socket.receive({ cmd: 'PUSH_DIALOGUE', senderId: PARTNER, sessionId, msgId, content, createdAt: 5_000 + msgId });
}

export function pushSignal(socket: FakeSocket, signalType: string, data: Frame, sessionId: unknown = 1) {
  socket.receive({ cmd: 'PUSH_SIGNAL', signalType, senderId: PARTNER, sessionId, receiverId: ME, data });
}

/**
 * Answer the running search's MATCH requests with code 4, as a server does after its match wait
 * when nobody is free, letting the page's pause between attempts pass (fake timers).
 */
export async function nobodyFree(socket: FakeSocket, attempts = MATCH_ATTEMPTS, fields: Frame = {}) {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    socket.receive({ cmd: 'MATCH', requestId: socket.last('MATCH').requestId, code: 4, msg: 'no partner available', ...fields });
    await flush();
    await flush();
    await vi.advanceTimersByTimeAsync(MATCH_RETRY_PAUSE_MS);
  }
}

/** Answer every HISTORY request on the socket with no further messages. */
export function answerEmptyHistory(socket: FakeSocket): void {
  for (const request of socket.frames('HISTORY')) {
    socket.receive({ cmd: 'HISTORY', requestId: request.requestId, code: 0, sessionId: request.sessionId, messages: [] });
  }
}

/** A signed-in controller, online, with one open session (id 1) with PARTNER and no history. */
export async function signedInWithSession(preferences = new MemoryStorage()) {
  const ctx = createController(signedInStorage(), preferences);
  ctx.controller.start();
  const socket = ctx.network.current;
  socket.open();
  await flush();
  socket.answer('RECONNECT', {
    accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }],
  });
  await flush();
  answerEmptyHistory(socket);
  await flush();
  return { ...ctx, socket };
}

