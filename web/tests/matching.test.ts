// Protocol 1.1 on the way to a partner: MATCH with interests, what the search says meanwhile,
// CANCEL_MATCH, chats others start, and AVAILABILITY.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INTEREST_WAIT_MS, MATCH_ATTEMPTS, MATCH_RETRY_PAUSE_MS } from '../src/app/finder';
import { flush, MemoryStorage } from './fakes';
import {
  createController,
  ME,
  nobodyFree,
  PARTNER,
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

describe('interests', () => {
  it('sends the interests with MATCH and remembers them for the next visit', async () => {
    const preferences = new MemoryStorage();
    const { controller, socket } = await signedInWithSession(preferences);
    controller.addInterests('Music, Board games');
    void controller.match();
    expect(socket.last('MATCH')).toEqual({
      cmd: 'MATCH', requestId: socket.last('MATCH').requestId, accountId: ME, interests: ['music', 'board games'],
    });
    expect(JSON.parse(preferences.getItem('pairchat.interests')!)).toEqual(['music', 'board games']);

    const next = createController(new MemoryStorage(), preferences);
    expect(next.controller.state.interests).toEqual(['music', 'board games']);
    next.controller.removeInterest('music');
    expect(JSON.parse(preferences.getItem('pairchat.interests')!)).toEqual(['board games']);
  });

  it('sends a MATCH without interests exactly as version 1 did', async () => {
    const { controller, socket } = await signedInWithSession();
    void controller.match();
    expect(socket.last('MATCH')).toEqual({ cmd: 'MATCH', requestId: socket.last('MATCH').requestId, accountId: ME });
  });

  it('shows the interests the two share in the new window', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.addInterests('music, chess');
    const match = controller.match();
    socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'new', commonInterests: ['chess'], online: 40 });
    await match;
    expect(controller.state.sessions[1]).toMatchObject({ key: '2', commonInterests: ['chess'], startedByPartner: false });
  });
});

describe('search status', () => {
  it('looks for shared interests first, then for anyone after the interest wait, then is done', async () => {
    const { controller, socket } = await signedInWithSession();
    controller.addInterests('music, games');
    const match = controller.match();
    expect(controller.state.match).toMatchObject({ phase: 'interests', interests: ['music', 'games'] });
    vi.advanceTimersByTime(INTEREST_WAIT_MS - 1);
    expect(controller.state.match.phase).toBe('interests');
    vi.advanceTimersByTime(1);
    expect(controller.state.match.phase).toBe('anyone');
    socket.answer('MATCH', { sessionId: 2, partnerId: 9, partnerName: 'new' });
    await match;
    expect(controller.state.match.phase).toBe('idle');
  });

  it('looks for anyone at once without interests', async () => {
    const { controller } = await signedInWithSession();
    void controller.match();
    expect(controller.state.match.phase).toBe('anyone');
  });

  it('asks again by itself while nobody is free, then says so in place with the online count', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    expect(controller.state.match).toMatchObject({ phase: 'anyone', attempt: 1, attempts: MATCH_ATTEMPTS });
    await nobodyFree(socket, MATCH_ATTEMPTS - 1, { online: 17 });
    expect(controller.state.match).toMatchObject({ phase: 'anyone', attempt: MATCH_ATTEMPTS, online: 17 });
    expect(controller.state.matchesInFlight).toBe(1);
    await nobodyFree(socket, 1, { online: 17 });
    await match;
    expect(socket.frames('MATCH')).toHaveLength(MATCH_ATTEMPTS);
    expect(controller.state.match).toMatchObject({ phase: 'none-free', online: 17 });
    // Said beside the button, not in a notice far away.
    expect(controller.notices.notices).toHaveLength(0);
  });

  it('stops asking once someone is found on a later attempt', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    await nobodyFree(socket, 1);
    socket.answer('MATCH', { sessionId: 5, partnerId: 9, partnerName: 'late', online: 3 });
    await match;
    expect(socket.frames('MATCH')).toHaveLength(2);
    expect(controller.state.match.phase).toBe('idle');
    expect(controller.state.sessions.map((s) => s.partnerName)).toContain('late');
  });

  it('cancels between two attempts without asking the server', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    socket.fail('MATCH', 4, 'no partner');
    await flush();
    await controller.cancelMatch();
    await match;
    vi.advanceTimersByTime(MATCH_RETRY_PAUSE_MS);
    expect(socket.frames('MATCH')).toHaveLength(1);
    expect(socket.frames('CANCEL_MATCH')).toHaveLength(0);
    expect(controller.state.match.phase).toBe('cancelled');
  });

  it('says in place why a search failed for another reason', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    socket.fail('MATCH', 8, 'too many MATCH requests: retry in 41 s');
    await match;
    expect(controller.state.match).toMatchObject({ phase: 'failed' });
    expect(controller.state.match.error).toMatch(/Too many conversations open/);
    expect(controller.notices.notices).toHaveLength(0);
  });

  it('cancels a waiting search with CANCEL_MATCH: its code 4 reads "cancelled", not an error', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    const cancel = controller.cancelMatch();
    expect(controller.state.match.cancelling).toBe(true);
    expect(socket.last('CANCEL_MATCH')).toEqual({ cmd: 'CANCEL_MATCH', requestId: socket.last('CANCEL_MATCH').requestId });
    // A second press while it is on its way sends nothing more, and no new search starts meanwhile.
    void controller.cancelMatch();
    void controller.match();
    expect(socket.frames('CANCEL_MATCH')).toHaveLength(1);
    expect(socket.frames('MATCH')).toHaveLength(1);
    socket.fail('MATCH', 4, 'cancelled');
    socket.answer('CANCEL_MATCH');
    await Promise.all([match, cancel]);
    expect(controller.state.match).toMatchObject({ phase: 'cancelled', cancelling: false });
    expect(controller.state.matchesInFlight).toBe(0);
    expect(controller.notices.notices).toHaveLength(0);
  });

  it('tells the person when a version 1 server cannot cancel, and keeps searching', async () => {
    const { controller, socket } = await signedInWithSession();
    void controller.match();
    const cancel = controller.cancelMatch();
    socket.fail('CANCEL_MATCH', 3, 'unknown command');
    await cancel;
    expect(controller.state.match).toMatchObject({ phase: 'anyone', cancelling: false });
    expect(texts(controller.notices.notices)).toEqual(['This server does not support that yet.']);
  });
});

describe('chats others start', () => {
  it('announces a chat someone else started and marks its window', async () => {
    const { controller, socket } = await signedInWithSession();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'Zoe', commonInterests: ['jazz'] }, 5);
    const session = controller.state.sessions[1]!;
    expect(session).toMatchObject({ partnerName: 'Zoe', startedByPartner: true, commonInterests: ['jazz'] });
    expect(texts(controller.notices.notices)).toEqual(['Zoe started a chat with you.']);
  });

  it('takes a NewSession arriving while our own search waits as that search\'s answer', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'Zoe' }, 5);
    socket.answer('MATCH', { sessionId: 5, partnerId: 9, partnerName: 'Zoe' });
    await match;
    expect(controller.state.sessions.map((s) => [s.key, s.startedByPartner])).toEqual([['1', false], ['5', false]]);
    expect(controller.notices.notices).toHaveLength(0);
  });

  it('does not announce again the session of our own finished search', async () => {
    const { controller, socket } = await signedInWithSession();
    const match = controller.match();
    socket.answer('MATCH', { sessionId: 5, partnerId: 9, partnerName: 'Zoe' });
    await match;
    pushSignal(socket, 'NewSession', { accountId: 9, nickName: 'Zoe' }, 5);
    expect(controller.notices.notices).toHaveLength(0);
  });
});

describe('availability', () => {
  it('sends AVAILABILITY when the person changes it, and puts it back if refused', async () => {
    const { controller, socket } = await signedInWithSession();
    expect(controller.state.available).toBe(true);
    controller.setAvailable(false);
    expect(controller.state.available).toBe(false);
    expect(socket.last('AVAILABILITY')).toMatchObject({ available: false });
    socket.answer('AVAILABILITY');
    await flush();
    controller.setAvailable(true);
    socket.fail('AVAILABILITY', 2, 'internal');
    await flush();
    expect(controller.state.available).toBe(false);
    expect(controller.notices.notices).toHaveLength(1);
  });

  it('takes the setting RECONNECT reports, and true from a version 1 server', async () => {
    const { network, controller } = createController(signedInStorage());
    controller.start();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', { accountId: ME, nickName: 'me', sessions: [], available: false });
    await flush();
    expect(controller.state.available).toBe(false);

    const v1 = createController(signedInStorage());
    v1.controller.state.available = false;
    v1.controller.start();
    v1.network.current.open();
    await flush();
    v1.network.current.answer('RECONNECT', { accountId: ME, nickName: 'me', sessions: [] });
    await flush();
    expect(v1.controller.state.available).toBe(true);
  });

  it('does not let a RECONNECT undo a change still on its way; the change is sent after it', async () => {
    const { controller, socket, network } = await signedInWithSession();
    socket.drop();
    controller.setAvailable(false);
    expect(socket.frames('AVAILABILITY')).toHaveLength(0);
    vi.advanceTimersToNextTimer();
    network.current.open();
    await flush();
    network.current.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'them' }], available: true,
    });
    await flush();
    expect(controller.state.available).toBe(false);
    expect(network.current.last('AVAILABILITY')).toMatchObject({ available: false });
  });
});
