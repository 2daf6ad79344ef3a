// Entry point: wire the controller to the real browser (WebSocket, sessionStorage, page events)
// and mount the view.
import { createApp } from 'vue';
import App from './App.vue';
import { openBrowserSocket, watchPage } from './app/browser';
import { ChatController } from './app/controller';
import { controllerKey } from './app/inject';
import { brokerUrl } from './protocol/client';
import './styles.css';

const controller = new ChatController({
  url: brokerUrl(window.location),
  socketFactory: openBrowserSocket,
  storage: window.sessionStorage,
  // Protocol oddities help while developing; in production they would only alarm users.
  ...(import.meta.env.DEV ? { log: (message: string, detail?: unknown) => console.warn(message, detail) } : {}),
});

createApp(App).provide(controllerKey, controller).mount('#app');
watchPage(controller);
controller.start();
