// The whole page mounted against a controller on a fake socket (for happy-dom test files).
import { mount, type VueWrapper } from '@vue/test-utils';
import App from '../src/App.vue';
import { ChatController } from '../src/app/controller';
import { controllerKey } from '../src/app/inject';
import { FakeNetwork, flush, MemoryStorage } from './fakes';

import { ME, PARTNER } from './harness';

export { ME, PARTNER };
let wrapper: VueWrapper | null = null;

/** Call from afterEach: the page is attached to document.body, so it must go. */
export function unmountApp(): void {
  wrapper?.unmount();
  wrapper = null;
}

/** Signed in: one conversation (session 1) with Bob, no messages yet. */
export async function mountApp(signedIn: boolean, preferences = new MemoryStorage()) {
  const storage = new MemoryStorage();
  if (signedIn) {
    storage.setItem('pairchat.accountId', String(ME));
    storage.setItem('pairchat.token', 'tok');
    storage.setItem('pairchat.nickName', 'me');
  }
  const network = new FakeNetwork();
  const controller = new ChatController({
    url: 'ws://test/ws',
    socketFactory: network.factory,
    storage,
    preferences,
    heartbeatIdleMs: 0,
  });
  wrapper = mount(App, { global: { provide: { [controllerKey as symbol]: controller } }, attachTo: document.body });
  controller.start();
  const socket = network.current;
  socket.open();
  await flush();
  if (signedIn) {
    socket.answer('RECONNECT', {
      accountId: ME, nickName: 'me', sessions: [{ sessionId: 1, partnerId: PARTNER, partnerName: 'Bob' }],
    });
    await flush();
    socket.answer('HISTORY', { sessionId: 1, messages: [] });
    await flush();
  }
  await wrapper.vm.$nextTick();
  return { wrapper, controller, socket, network };
}

export const byTestId = (w: VueWrapper, id: string) => w.findAll(`[data-testid="${id}"]`);
