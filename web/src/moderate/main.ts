// Entry point of the moderator console (moderate.html, served at /moderate by the operations
// listener): the API of the same origin, the token in sessionStorage.
import { createApp } from 'vue';
import ModerateApp from './ModerateApp.vue';
import { ModerationConsole } from './console';
import '../styles.css';
import './moderate.css';

const moderation = new ModerationConsole({
  fetch: (url, init) => window.fetch(url, init),
  storage: window.sessionStorage,
});

createApp(ModerateApp, { moderation }).mount('#app');
void moderation.start();
