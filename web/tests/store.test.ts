// The conversation store: dedupe, ordering, read state, exit state, plain-text content.
import { describe, expect, it } from 'vitest';
import {
  canSend,
  ChatStore,
  deliveryMark,
  highestPartnerMsgId,
  unreadCount,
  type ChatSession,
} from '../src/store/chat';

const ME = 1;
const PARTNER = 2;

function storeWithSession(): { store: ChatStore; session: ChatSession } {
  const store = new ChatStore();
  store.setAccount({ accountId: ME, nickName: 'me' });
  const session = store.openSession({ sessionId: 10, partnerId: PARTNER, partnerName: 'them' });
  return { store, session };
}

function stored(msgId: number, senderId = PARTNER, content = `m${msgId}`) {
  return { msgId, senderId, content, createdAt: 1_700_000_000_000 + msgId };
}

const ids = (session: ChatSession) => session.messages.map((m) => m.msgId);

describe('ChatStore', () => {
  it('keys sessions by the sessionId as a string, whatever its JSON type', () => {
    const { store } = storeWithSession();
    expect(store.session(10)).toBeDefined();
    expect(store.session('10')).toBe(store.session(10));
  });

  it('drops a message it already has, so at-least-once pushes and overlapping history show once', () => {
    const { store, session } = storeWithSession();
    expect(store.addStored(session.key, stored(1))).toBe(true);
    expect(store.addStored(session.key, stored(1))).toBe(false);
    expect(store.addStored(session.key, stored(2))).toBe(true);
    expect(store.addStored(session.key, stored(2))).toBe(false);
    expect(ids(session)).toEqual([1, 2]);
  });

  it('keeps messages in msgId order even when they arrive out of order', () => {
    const { store, session } = storeWithSession();
    for (const id of [3, 1, 4, 2]) store.addStored(session.key, stored(id));
    expect(ids(session)).toEqual([1, 2, 3, 4]);
  });

  it('shows an own message as pending at the end, then moves it into place when the server assigns its msgId', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1));
    const pending = store.addPending(session.key, 'req-a', 'hello', 5);
    expect(pending).toMatchObject({ status: 'pending', msgId: null, own: true });
    store.addStored(session.key, stored(2));
    expect(ids(session)).toEqual([1, 2, null]);
    store.markSent(session.key, 'req-a', 3);
    expect(ids(session)).toEqual([1, 2, 3]);
    expect(session.messages[2]).toMatchObject({ status: 'sent', content: 'hello', key: 'rreq-a' });
  });

  it('does not show an own message twice when history brought it before the send response', () => {
    const { store, session } = storeWithSession();
    store.addPending(session.key, 'req-a', 'hello', 5);
    store.addStored(session.key, stored(1, ME, 'hello'));
    store.markSent(session.key, 'req-a', 1);
    expect(session.messages).toHaveLength(1);
    expect(session.messages[0]).toMatchObject({ msgId: 1, own: true, status: 'sent' });
    // ...nor when the history comes after the response.
    store.addPending(session.key, 'req-b', 'again', 6);
    store.markSent(session.key, 'req-b', 2);
    expect(store.addStored(session.key, stored(2, ME, 'again'))).toBe(false);
    expect(ids(session)).toEqual([1, 2]);
  });

  it('recognises own messages in history by senderId', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1, ME));
    store.addStored(session.key, stored(2, PARTNER));
    expect(session.messages.map((m) => m.own)).toEqual([true, false]);
  });

  it('keeps markup as plain text in the model', () => {
    const { store, session } = storeWithSession();
    const xss = '<img src=x onerror=alert(1)>';
    store.addStored(session.key, stored(1, PARTNER, xss));
    store.addPending(session.key, 'r', xss, 1);
    expect(session.messages.map((m) => m.content)).toEqual([xss, xss]);
  });

  it('counts unread partner messages until the window is viewed', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1));
    store.addStored(session.key, stored(2, ME));
    store.addStored(session.key, stored(3));
    expect(unreadCount(session)).toBe(2);
    expect(highestPartnerMsgId(session)).toBe(3);
    expect(store.markViewed(session.key)).toBe(3);
    expect(unreadCount(session)).toBe(0);
    expect(store.markViewed(session.key)).toBeNull();
    store.addStored(session.key, stored(4));
    expect(unreadCount(session)).toBe(1);
  });

  it('counts a window as seen only while it is in view and the page is visible', () => {
    const { store, session } = storeWithSession();
    expect(store.isSeenNow(session)).toBe(false);
    store.setInView(session.key, true);
    expect(store.isSeenNow(session)).toBe(true);
    store.setDocumentVisible(false);
    expect(store.isSeenNow(session)).toBe(false);
  });

  it('marks own messages seen up to the partner\'s ViewedAck', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1, ME));
    store.addStored(session.key, stored(2, ME));
    store.markPartnerSeen(session.key, 1);
    expect(session.messages.map((m) => deliveryMark(session, m))).toEqual(['seen', 'sent']);
    store.markPartnerSeen(session.key, 0); // never goes backwards
    expect(session.partnerSeenUpTo).toBe(1);
  });

  it('disables writing once the partner left, keeping the messages readable', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1));
    store.setPartnerTyping(session.key, true);
    store.markEnded(session.key, 'partner-left');
    expect(canSend(session)).toBe(false);
    expect(session.partnerTyping).toBe(false);
    expect(session.messages).toHaveLength(1);
    store.markEnded(session.key, 'closed'); // the more specific reason stays
    expect(session.ended).toBe('partner-left');
  });

  it('lets the person\'s own report or block replace how a conversation ended, and nothing else', () => {
    const { store, session } = storeWithSession();
    store.markEnded(session.key, 'partner-left');
    store.markEnded(session.key, 'reported');
    expect(session.ended).toBe('reported');
    store.markEnded(session.key, 'closed');
    store.markEnded(session.key, 'partner-left');
    expect(session.ended).toBe('reported');
    const other = store.openSession({ sessionId: 11, partnerId: 3, partnerName: 'b' });
    store.markEnded(other.key, 'closed');
    store.markEnded(other.key, 'blocked');
    expect(other.ended).toBe('blocked');
    expect(canSend(other)).toBe(false);
  });

  it('shows the partner away until they are back or the conversation ends', () => {
    const { store, session } = storeWithSession();
    store.setPartnerAway(session.key, true);
    expect(session.partnerAway).toBe(true);
    store.setPartnerAway(session.key, false);
    expect(session.partnerAway).toBe(false);
    store.setPartnerAway(session.key, true);
    store.markEnded(session.key, 'partner-left');
    expect(session.partnerAway).toBe(false);
    store.setPartnerAway(session.key, true); // a late signal for an ended conversation
    expect(session.partnerAway).toBe(false);
  });

  it('puts refused text back into the composer after what was typed since', () => {
    const { store, session } = storeWithSession();
    store.restoreDraft(session.key, 'first');
    expect(session.draft).toBe('first');
    store.restoreDraft(session.key, 'second');
    expect(session.draft).toBe('first\nsecond');
    store.setDraft(session.key, '  ');
    store.restoreDraft(session.key, 'third');
    expect(session.draft).toBe('third');
  });

  it('keeps the interests two people share, and fills them in when a later announcement has them', () => {
    const store = new ChatStore();
    store.setAccount({ accountId: ME, nickName: 'me' });
    const session = store.openSession({ sessionId: 1, partnerId: PARTNER, partnerName: 'x' });
    expect(session.commonInterests).toEqual([]);
    store.openSession({ sessionId: 1, partnerId: PARTNER, partnerName: 'x', commonInterests: ['chess'] });
    expect(session.commonInterests).toEqual(['chess']);
    store.openSession({ sessionId: 1, partnerId: PARTNER, partnerName: 'x', commonInterests: [] });
    expect(session.commonInterests).toEqual(['chess']);
  });

  it('continues history after the last message without a gap', () => {
    const { store, session } = storeWithSession();
    expect(store.historyCursor(session.key)).toBe(0);
    for (const id of [1, 2, 4]) store.addStored(session.key, stored(id));
    expect(store.historyCursor(session.key)).toBe(2);
    store.addStored(session.key, stored(3));
    expect(store.historyCursor(session.key)).toBe(4);
  });

  it('reopening a known session keeps its messages and only fills in a better name', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1));
    store.openSession({ sessionId: 10, partnerId: PARTNER, partnerName: '' });
    expect(session.partnerName).toBe('them');
    store.openSession({ sessionId: '10', partnerId: PARTNER, partnerName: 'renamed' });
    expect(store.state.sessions).toHaveLength(1);
    expect(session.partnerName).toBe('renamed');
    expect(session.messages).toHaveLength(1);
  });

  it('moves the active window to a neighbour when the active one is removed', () => {
    const { store } = storeWithSession();
    store.openSession({ sessionId: 11, partnerId: 3, partnerName: 'b' }, { activate: true });
    store.openSession({ sessionId: 12, partnerId: 4, partnerName: 'c' });
    expect(store.state.activeKey).toBe('11');
    store.removeSession('11');
    expect(store.state.activeKey).toBe('12');
    expect(store.state.sessions.map((s) => s.key)).toEqual(['10', '12']);
  });

  it('forgets everything on sign-out, the interests excepted (they are the browser\'s)', () => {
    const { store, session } = storeWithSession();
    store.addStored(session.key, stored(1));
    store.state.interests = ['music'];
    store.state.available = false;
    store.state.banned = 'banned';
    store.setAccount(null);
    expect(store.state.sessions).toHaveLength(0);
    expect(store.state.activeKey).toBeNull();
    expect(store.state.available).toBe(true);
    expect(store.state.banned).toBeNull();
    expect(store.state.interests).toEqual(['music']);
  });
});
