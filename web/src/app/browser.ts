// The browser edges of the app: the real WebSocket behind the SocketLike interface, and the page
// events (visibility, network) that the controller needs to hear about.
import type { SocketLike } from '../protocol/client';
import type { ChatController } from './controller';

/** Open a browser WebSocket and expose it through the small interface the protocol client uses. */
export function openBrowserSocket(url: string): SocketLike {
  const ws = new WebSocket(url);
  const socket: SocketLike = {
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  ws.onopen = (event) => socket.onopen?.(event);
  ws.onmessage = (event) => socket.onmessage?.({ data: event.data });
  ws.onclose = (event) => socket.onclose?.({ code: event.code, reason: event.reason });
  ws.onerror = (event) => socket.onerror?.(event);
  return socket;
}

/** Forward page visibility and network changes to the controller; returns the unsubscribe. */
export function watchPage(controller: ChatController): () => void {
  const onVisibility = () => controller.setDocumentVisible(document.visibilityState === 'visible');
  const onOnline = () => controller.client.setNetworkAvailable(true);
  const onOffline = () => controller.client.setNetworkAvailable(false);
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('online', onOnline);
  window.addEventListener('offline', onOffline);
  onVisibility();
  if (navigator.onLine === false) onOffline();
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('online', onOnline);
    window.removeEventListener('offline', onOffline);
  };
}
