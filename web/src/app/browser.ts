// The browser edges of the app: the real WebSocket behind the SocketLike interface, the page
// events (visibility, network) that the controller needs to hear about, and the sound and desktop
// notifications behind AlertChannel.
import type { SocketLike } from '../protocol/client';
import type { AlertChannel, NotificationPermissionState } from './attention';
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

/**
 * Forward page visibility and network changes to the controller, and send the Leaves still
 * counting down when the page goes away (closed, reloaded, navigated from); returns the
 * unsubscribe.
 */
export function watchPage(controller: ChatController): () => void {
  const onVisibility = () => controller.setDocumentVisible(document.visibilityState === 'visible');
  const onPageHide = () => controller.sendPendingLeaves();
  const onOnline = () => controller.client.setNetworkAvailable(true);
  const onOffline = () => controller.client.setNetworkAvailable(false);
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('pagehide', onPageHide);
  window.addEventListener('online', onOnline);
  window.addEventListener('offline', onOffline);
  onVisibility();
  if (navigator.onLine === false) onOffline();
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('pagehide', onPageHide);
    window.removeEventListener('online', onOnline);
    window.removeEventListener('offline', onOffline);
  };
}

/** Two short rising tones, made with Web Audio (no sound file, nothing to fetch). */
function playChime(audio: AudioContext): void {
  if (audio.state === 'suspended') void audio.resume();
  const start = audio.currentTime;
  const gain = audio.createGain();
  gain.connect(audio.destination);
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.4);
  for (const [frequency, offset] of [
    [880, 0],
    [1318.5, 0.12],
  ] as const) {
    const tone = audio.createOscillator();
    tone.type = 'sine';
    tone.frequency.value = frequency;
    tone.connect(gain);
    tone.start(start + offset);
    tone.stop(start + offset + 0.25);
  }
}

/** The browser's sound and notifications; what it lacks is reported, never thrown. */
export function browserAlerts(): AlertChannel {
  let audio: AudioContext | null = null;
  const context = (): AudioContext | null => {
    if (audio === null && typeof AudioContext !== 'undefined') audio = new AudioContext();
    return audio;
  };
  const permission = (): NotificationPermissionState =>
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  return {
    prepareSound: () => void context()?.resume(),
    chime: () => {
      const ready = context();
      if (ready) playChime(ready);
    },
    permission,
    requestPermission: async () => {
      if (typeof Notification === 'undefined') return 'unsupported';
      try {
        return await Notification.requestPermission();
      } catch {
        return permission();
      }
    },
    notify: (note) => {
      if (permission() !== 'granted') return;
      try {
        const shown = new Notification(note.title, {
          body: note.body,
          tag: note.tag,
          icon: '/favicon.svg',
          dir: 'auto',
        });
        shown.onclick = () => {
          window.focus();
          note.onClick();
          shown.close();
        };
      } catch {
        // Some browsers (Chrome on Android) only show notifications from a service worker.
      }
    },
  };
}
