// The protocol client against a fake WebSocket: request matching, acks, reconnection and replay.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/protocol/backoff';
import { brokerUrl, ProtocolClient, type ProtocolClientOptions } from '../src/protocol/client';
import {
  ClientStoppedError,
  ConnectionLostError,
  NotConnectedError,
  RequestError,
  RequestTimeoutError,
} from '../src/protocol/errors';
import type { Push } from '../src/protocol/types';
import { FakeNetwork, flush } from './fakes';

function setup(overrides: Partial<ProtocolClientOptions> = {}) {
  const network = new FakeNetwork();
  const pushes: Push[] = [];
  const states: string[] = [];
  const client = new ProtocolClient({
    url: 'ws://broker.test/ws',
    socketFactory: network.factory,
    onPush: (push) => pushes.push(push),
    onStateChange: (state) => states.push(state),
    random: () => 0,
    requestIdPrefix: 't',
    ...overrides,
  });
  return { network, pushes, states, client };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('requests', () => {
  it('matches responses to requests by requestId, whatever their order', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    const first = client.request('HISTORY', { sessionId: 's1' });
    const second = client.request('HISTORY', { sessionId: 's2' });
    const [a, b] = network.current.frames('HISTORY');
    expect(a!.requestId).not.toEqual(b!.requestId);
    network.current.receive({ cmd: 'HISTORY', requestId: b!.requestId, code: 0, sessionId: 's2', messages: [] });
    network.current.receive({ cmd: 'HISTORY', requestId: a!.requestId, code: 0, sessionId: 's1', messages: [] });
    await expect(first).resolves.toMatchObject({ sessionId: 's1' });
    await expect(second).resolves.toMatchObject({ sessionId: 's2' });
  });

  it('rejects with the code and reason of an error response', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    const match = client.request('MATCH', { accountId: 1 });
    network.current.fail('MATCH', 4, 'no partner available');
    const error = await match.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: 4, cmd: 'MATCH', serverMsg: 'no partner available' });
  });

  it('keeps the further fields of an error response (MATCH code 4 says how many are online)', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    const match = client.request('MATCH', { accountId: 1, interests: ['music'] });
    expect(network.current.last('MATCH')).toMatchObject({ accountId: 1, interests: ['music'] });
    network.current.receive({
      cmd: 'MATCH', requestId: network.current.last('MATCH').requestId, code: 4, msg: 'no partner', online: 12,
    });
    const error = await match.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 4, serverMsg: 'no partner', details: { online: 12 } });
  });

  it('sends the protocol 1.1 commands with exactly their fields', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    void client.request('CANCEL_MATCH', {});
    void client.request('AVAILABILITY', { available: false });
    void client.request('REPORT', { sessionId: 4, reason: 'abuse', note: 'rude' });
    void client.request('BLOCK', { sessionId: 5 });
    const strip = (frame: Record<string, unknown>) => {
      const { requestId, ...rest } = frame;
      expect(typeof requestId).toBe('string');
      return rest;
    };
    expect(network.current.sent.map(strip)).toEqual([
      { cmd: 'CANCEL_MATCH' },
      { cmd: 'AVAILABILITY', available: false },
      { cmd: 'REPORT', sessionId: 4, reason: 'abuse', note: 'rude' },
      { cmd: 'BLOCK', sessionId: 5 },
    ]);
  });

  it('gives every request a unique string requestId of at most 64 characters', async () => {
    const { network, client } = setup({ requestIdPrefix: undefined });
    client.start();
    network.current.open();
    await flush();
    for (let i = 0; i < 50; i += 1) void client.request('PING', {}).catch(() => undefined);
    const ids = network.current.frames('PING').map((frame) => frame.requestId);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) {
      expect(typeof id).toBe('string');
      expect((id as string).length).toBeLessThanOrEqual(64);
    }
  });

  it('holds requests made before the connection is up and sends them in order after the handshake', async () => {
    const handshake = vi.fn(async (context) => {
      await context.request('RECONNECT', { accountId: 7, token: 'tok' });
    });
    const { network, client } = setup({ handshake });
    client.start();
    const sent = client.request('DIALOGUE', { senderId: 7, sessionId: 's', content: 'early' }, { replay: true });
    const match = client.request('MATCH', { accountId: 7 });
    network.current.open();
    await flush();
    expect(network.current.sent.map((f) => f.cmd)).toEqual(['RECONNECT']);
    network.current.answer('RECONNECT', { accountId: 7, nickName: 'a', sessions: [] });
    await flush();
    expect(network.current.sent.map((f) => f.cmd)).toEqual(['RECONNECT', 'DIALOGUE', 'MATCH']);
    network.current.answer('DIALOGUE', { sessionId: 's', msgId: 1 });
    network.current.answer('MATCH', { sessionId: 's2', partnerId: 8, partnerName: 'b' });
    await expect(sent).resolves.toMatchObject({ msgId: 1 });
    await expect(match).resolves.toMatchObject({ partnerName: 'b' });
  });

  it('fails best-effort requests at once while offline instead of queueing them', async () => {
    const { client } = setup();
    client.start();
    await expect(client.request('TYPING', { sessionId: 's' }, { volatile: true })).rejects.toBeInstanceOf(
      NotConnectedError,
    );
  });

  it('times out a request that is never answered', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    const match = client.request('MATCH', { accountId: 1 }, { timeoutMs: 5_000 });
    const outcome = match.catch((e: unknown) => e);
    vi.advanceTimersByTime(5_000);
    expect(await outcome).toBeInstanceOf(RequestTimeoutError);
  });

  it('rejects everything outstanding when stopped', async () => {
    const { network, client, states } = setup();
    client.start();
    network.current.open();
    await flush();
    const pending = client.request('DIALOGUE', { senderId: 1, sessionId: 's', content: 'x' }, { replay: true });
    client.stop();
    await expect(pending).rejects.toBeInstanceOf(ClientStoppedError);
    expect(network.current.closed).toBe(true);
    expect(states[states.length - 1]).toBe('offline');
  });

  it('reports frames it cannot attribute', async () => {
    const onUnexpectedFrame = vi.fn();
    const { network, client } = setup({ onUnexpectedFrame });
    client.start();
    network.current.open();
    await flush();
    network.current.receive({ cmd: 'ERROR', code: 1, msg: 'not a JSON object' });
    network.current.receive('{not json');
    expect(onUnexpectedFrame).toHaveBeenCalledTimes(2);
  });
});

describe('pushes', () => {
  it('hands every push to the application and acknowledges it with the exact ack frame', async () => {
    const { network, client, pushes } = setup();
    client.start();
    network.current.open();
    await flush();
    network.current.receive({
      cmd: 'PUSH_DIALOGUE', senderId: 2, sessionId: 's1', msgId: 5, content: 'hi', createdAt: 1,
    });
    network.current.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'Typing', senderId: 2, sessionId: 's1', receiverId: 1,
      data: { accountId: 2 },
    });
    expect(pushes.map((p) => p.cmd)).toEqual(['PUSH_DIALOGUE', 'PUSH_SIGNAL']);
    expect(network.current.frames('PUSH_DIALOGUE')).toContainEqual({
      cmd: 'PUSH_DIALOGUE', code: 0, sessionId: 's1', msgId: 5,
    });
    expect(network.current.frames('PUSH_SIGNAL')).toContainEqual({
      cmd: 'PUSH_SIGNAL', code: 0, sessionId: 's1', signalType: 'Typing',
    });
  });

  it('still acknowledges a push whose handler throws, and reports the error', async () => {
    const onPushError = vi.fn();
    const { network, client } = setup({
      onPush: () => {
        throw new Error('bug');
      },
      onPushError,
    });
    client.start();
    network.current.open();
    await flush();
    network.current.receive({
      cmd: 'PUSH_SIGNAL', signalType: 'Mystery', senderId: 2, sessionId: 9, receiverId: 1, data: {},
    });
    expect(onPushError).toHaveBeenCalledOnce();
    expect(network.current.frames('PUSH_SIGNAL')).toEqual([
      { cmd: 'PUSH_SIGNAL', code: 0, sessionId: 9, signalType: 'Mystery' },
    ]);
  });

  it('delivers pushes that arrive during the handshake (replayed after RECONNECT)', async () => {
    const { network, client, pushes } = setup({
      handshake: async (context) => {
        await context.request('RECONNECT', { accountId: 1, token: 't' });
      },
    });
    client.start();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: 1, nickName: 'a', sessions: [] });
    network.current.receive({
      cmd: 'PUSH_DIALOGUE', senderId: 2, sessionId: 's', msgId: 1, content: 'x', createdAt: 1,
    });
    expect(pushes).toHaveLength(1);
    expect(network.current.frames('PUSH_DIALOGUE')).toHaveLength(1);
  });
});

describe('reconnection', () => {
  async function onlineWithHandshake() {
    const tokens: string[] = [];
    const ctx = setup({
      handshake: async (context) => {
        tokens.push('RECONNECT');
        await context.request('RECONNECT', { accountId: 3, token: 'secret' });
      },
    });
    ctx.client.start();
    ctx.network.current.open();
    await flush();
    ctx.network.current.answer('RECONNECT', { accountId: 3, nickName: 'c', sessions: [] });
    await flush();
    return { ...ctx, tokens };
  }

  it('reconnects after a drop, sends RECONNECT again, and re-sends an unanswered DIALOGUE with the same requestId', async () => {
    const { network, client, states } = await onlineWithHandshake();
    const message = client.request(
      'DIALOGUE', { senderId: 3, sessionId: 's', content: 'once only' }, { replay: true },
    );
    const original = network.current.last('DIALOGUE');
    network.current.drop();
    expect(states).toContain('reconnecting');
    expect(network.sockets).toHaveLength(1);

    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    expect(network.sockets).toHaveLength(2);
    const second = network.current;
    second.open();
    await flush();
    expect(second.sent.map((f) => f.cmd)).toEqual(['RECONNECT']);
    expect(second.last('RECONNECT')).toMatchObject({ accountId: 3, token: 'secret' });
    second.answer('RECONNECT', { accountId: 3, nickName: 'c', sessions: [] });
    await flush();
    const replayed = second.last('DIALOGUE');
    expect(replayed.requestId).toBe(original.requestId);
    expect(replayed.content).toBe('once only');
    second.answer('DIALOGUE', { sessionId: 's', msgId: 4 });
    await expect(message).resolves.toMatchObject({ msgId: 4 });
    expect(states[states.length - 1]).toBe('online');
  });

  it('fails a non-replayable request cut off by a drop instead of repeating it', async () => {
    const { network, client } = await onlineWithHandshake();
    const match = client.request('MATCH', { accountId: 3 });
    network.current.drop();
    await expect(match).rejects.toBeInstanceOf(ConnectionLostError);
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: 3, nickName: 'c', sessions: [] });
    await flush();
    expect(network.current.frames('MATCH')).toHaveLength(0);
  });

  it('backs off exponentially between failed attempts, capped near 10 s, and resets once online', async () => {
    const { network, client } = setup();
    client.start();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const before = network.sockets.length;
      network.current.drop();
      let waited = 0;
      while (network.sockets.length === before) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
    network.current.open();
    await flush();
    expect(client.state).toBe('online');
    network.current.drop();
    vi.advanceTimersByTime(500);
    expect(network.sockets).toHaveLength(10);
  });

  it('retries a failed handshake on a new socket', async () => {
    const { network, client } = setup({
      handshake: async (context) => {
        await context.request('RECONNECT', { accountId: 3, token: 'x' });
      },
    });
    client.start();
    network.current.open();
    await flush();
    network.current.fail('RECONNECT', 2, 'internal');
    await flush();
    expect(network.sockets[0]!.closed).toBe(true);
    expect(client.state).toBe('connecting');
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    expect(network.sockets).toHaveLength(2);
  });

  it('waits for the network while the browser reports none, and reconnects at once when it returns', async () => {
    const { network, client } = await onlineWithHandshake();
    client.setNetworkAvailable(false);
    network.current.drop();
    expect(client.state).toBe('offline');
    vi.advanceTimersByTime(60_000);
    expect(network.sockets).toHaveLength(1);
    client.setNetworkAvailable(true);
    expect(network.sockets).toHaveLength(2);
    expect(client.state).toBe('reconnecting');
  });

  it('closes an open connection when the browser goes offline and resumes it when back', async () => {
    const { network, client } = await onlineWithHandshake();
    const message = client.request('DIALOGUE', { senderId: 3, sessionId: 's', content: 'x' }, { replay: true });
    const sent = network.current.last('DIALOGUE');
    client.setNetworkAvailable(false);
    expect(network.sockets[0]!.closed).toBe(true);
    expect(client.state).toBe('offline');
    client.setNetworkAvailable(true);
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: 3, nickName: 'c', sessions: [] });
    await flush();
    expect(network.current.last('DIALOGUE').requestId).toBe(sent.requestId);
    network.current.answer('DIALOGUE', { sessionId: 's', msgId: 1 });
    await expect(message).resolves.toMatchObject({ msgId: 1 });
  });

  it('does not reconnect by itself after a 4000 close (another tab took the account), only when asked', async () => {
    const onSuperseded = vi.fn();
    const { network, client } = setup({ onSuperseded });
    client.start();
    network.current.open();
    await flush();
    const message = client.request('DIALOGUE', { senderId: 3, sessionId: 's', content: 'x' }, { replay: true });
    const sent = network.current.last('DIALOGUE');
    network.current.drop(4000, 'account connected elsewhere');
    expect(onSuperseded).toHaveBeenCalledWith(4000, 'account connected elsewhere');
    expect(client.state).toBe('offline');
    expect(client.isSuperseded).toBe(true);
    vi.advanceTimersByTime(60_000);
    client.setNetworkAvailable(false);
    client.setNetworkAvailable(true);
    expect(network.sockets).toHaveLength(1);

    client.reconnectNow();
    expect(network.sockets).toHaveLength(2);
    expect(client.isSuperseded).toBe(false);
    network.current.open();
    await flush();
    expect(network.current.last('DIALOGUE').requestId).toBe(sent.requestId);
    network.current.answer('DIALOGUE', { sessionId: 's', msgId: 1 });
    await expect(message).resolves.toMatchObject({ msgId: 1 });
  });

  it('stays offline after hold() (even when called from the handshake) until reconnectNow()', async () => {
    let refuse = true;
    const { network, client } = setup({
      handshake: async (context) => {
        try {
          await context.request('RECONNECT', { accountId: 3, token: 'x' });
        } catch {
          if (refuse) client.hold();
        }
      },
    });
    client.start();
    network.current.open();
    await flush();
    const waiting = client.request('MATCH', { accountId: 3 });
    network.current.fail('RECONNECT', 10, 'banned until tomorrow');
    await flush();
    expect(network.sockets[0]!.closed).toBe(true);
    expect(client.state).toBe('offline');
    expect(client.isHeld).toBe(true);
    vi.advanceTimersByTime(10 * 60_000);
    client.setNetworkAvailable(false);
    client.setNetworkAvailable(true);
    expect(network.sockets).toHaveLength(1);

    refuse = false;
    client.reconnectNow();
    expect(client.isHeld).toBe(false);
    expect(network.sockets).toHaveLength(2);
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: 3, nickName: 'c', sessions: [] });
    await flush();
    expect(client.state).toBe('online');
    // The request made meanwhile waited for the connection and goes out now.
    network.current.answer('MATCH', { sessionId: 1, partnerId: 4, partnerName: 'd' });
    await expect(waiting).resolves.toMatchObject({ sessionId: 1 });
  });

  it('replaces a connection on which a replayable request got no answer in time, and re-sends it', async () => {
    const { network, client } = setup();
    client.start();
    network.current.open();
    await flush();
    const message = client.request(
      'DIALOGUE', { senderId: 3, sessionId: 's', content: 'x' }, { replay: true, timeoutMs: 1_000 },
    );
    const sent = network.current.last('DIALOGUE');
    vi.advanceTimersByTime(1_000);
    expect(network.sockets[0]!.closed).toBe(true);
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    network.current.open();
    await flush();
    expect(network.current.last('DIALOGUE').requestId).toBe(sent.requestId);
    network.current.answer('DIALOGUE', { sessionId: 's', msgId: 2 });
    await expect(message).resolves.toMatchObject({ msgId: 2 });
  });

  it('drops a silent connection when its heartbeat PING goes unanswered', async () => {
    const { network, client } = setup({ heartbeatIdleMs: 1_000, heartbeatTimeoutMs: 500 });
    client.start();
    network.current.open();
    await flush();
    vi.advanceTimersByTime(1_000);
    expect(network.current.frames('PING')).toHaveLength(1);
    vi.advanceTimersByTime(500);
    expect(network.sockets[0]!.closed).toBe(true);
    expect(client.state).toBe('reconnecting');
  });

  it('keeps a connection whose heartbeat is answered', async () => {
    const { network, client } = setup({ heartbeatIdleMs: 1_000, heartbeatTimeoutMs: 500 });
    client.start();
    network.current.open();
    await flush();
    vi.advanceTimersByTime(1_000);
    network.current.answer('PING');
    await flush();
    vi.advanceTimersByTime(600);
    expect(network.sockets[0]!.closed).toBe(false);
    expect(client.state).toBe('online');
  });
});

describe('helpers', () => {
  it('computes capped, jittered backoff delays', () => {
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(500);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(4000);
    expect(backoffDelay(20, DEFAULT_BACKOFF, () => 0)).toBe(10_000);
    expect(backoffDelay(20, DEFAULT_BACKOFF, () => 0.999)).toBeGreaterThanOrEqual(5_000);
  });

  it('derives the WebSocket URL from the page origin', () => {
    expect(brokerUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/ws');
    expect(brokerUrl({ protocol: 'https:', host: 'chat.example' })).toBe('wss://chat.example/ws');
  });
});
