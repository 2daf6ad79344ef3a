// Entry point: wire the controller to the real browser (WebSocket, sessionStorage, page events)
// and mount the view.
import { createApp } from 'vue';
import App from './App.vue';
import { browserAlerts, openBrowserSocket, watchPage } from './app/browser';
import { ChatController } from './app/controller';
import { controllerKey } from './app/inject';
import { brokerUrl } from './protocol/client';
import './styles.css';

/** localStorage, or none where the browser refuses it (some privacy settings throw on access). */
function localPreferences(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

const controller = new ChatController({
  url: brokerUrl(window.location),
  socketFactory: openBrowserSocket,
  storage: window.sessionStorage,
  preferences: localPreferences(),
  alerts: browserAlerts(),
  // Protocol oddities help while developing; in production they would only alarm users.
  ...(import.meta.env.DEV ? { log: (message: string, detail?: unknown) => console.warn(message, detail) } : {}),
});

createApp(App).provide(controllerKey, controller).mount('#app');
watchPage(controller);
controller.start();
