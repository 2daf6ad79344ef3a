// Getting the person's attention while the page is hidden (another tab, a minimised window): an
// opt-in chime and opt-in desktop notifications for new messages and new chats. The browser side
// (Web Audio, the Notification API) sits behind AlertChannel, so the rules run under vitest.
import type { AlertSettings, ChatSession, ChatState } from '../store/chat';
import type { Preferences } from '../store/preferences';

export type NotificationPermissionState = AlertSettings['permission'];

export interface DesktopNote {
  title: string;
  body: string;
  /** One notification per conversation: a newer one replaces the older. */
  tag: string;
  onClick(): void;
}

/** What the browser offers; main.ts passes the real one, tests a recording fake. */
export interface AlertChannel {
  /** A short sound. */
  chime(): void;
  /** Unlock sound while the person is interacting (browsers refuse audio without a gesture). */
  prepareSound(): void;
  permission(): NotificationPermissionState;
  requestPermission(): Promise<NotificationPermissionState>;
  notify(note: DesktopNote): void;
}

/** At most one chime this often, however fast messages come. */
export const CHIME_GAP_MS = 2_000;
/** Notification text is cut here (the conversation has the rest). */
const BODY_CHARS = 140;

export class Attention {
  private lastChime = -Infinity;

  constructor(
    private readonly state: ChatState,
    private readonly channel: AlertChannel | null,
    private readonly preferences: Preferences,
    private readonly now: () => number,
    /** Bring a conversation to the front (a notification was clicked). */
    private readonly show: (key: string) => void,
  ) {
    const choices = preferences.loadAlerts();
    const permission = channel?.permission() ?? 'unsupported';
    state.alerts = {
      sound: choices.sound && channel !== null,
      notify: choices.notify && permission === 'granted',
      permission,
    };
  }

  /** Turn the chime on or off (a click: the moment to unlock audio). */
  setSound(on: boolean): void {
    if (on) this.channel?.prepareSound();
    this.state.alerts.sound = on && this.channel !== null;
    this.save();
  }

  /** Turn notifications on (asking the browser's permission first) or off; resolves to the outcome. */
  async setNotify(on: boolean): Promise<boolean> {
    const alerts = this.state.alerts;
    if (!on || !this.channel) {
      alerts.notify = false;
      this.save();
      return false;
    }
    let permission = this.channel.permission();
    if (permission === 'default') permission = await this.channel.requestPermission();
    alerts.permission = permission;
    alerts.notify = permission === 'granted';
    this.save();
    return alerts.notify;
  }

  /** A partner's message arrived (not one already shown). */
  message(session: ChatSession, content: string): void {
    if (this.state.documentVisible) return;
    const body = content.length > BODY_CHARS ? `${content.slice(0, BODY_CHARS)}…` : content;
    this.signal(session, session.partnerName, body);
  }

  /** A conversation opened: someone picked this person, or their own search found someone. */
  newChat(session: ChatSession): void {
    if (this.state.documentVisible) return;
    this.signal(session, 'New chat on pairchat', `You are now talking to ${session.partnerName}.`);
  }

  private signal(session: ChatSession, title: string, body: string): void {
    const alerts = this.state.alerts;
    if (alerts.sound && this.channel && this.now() - this.lastChime >= CHIME_GAP_MS) {
      this.lastChime = this.now();
      this.channel.chime();
    }
    if (alerts.notify && this.channel && alerts.permission === 'granted') {
      const key = session.key;
      this.channel.notify({ title, body, tag: `pairchat-${key}`, onClick: () => this.show(key) });
    }
  }

  private save(): void {
    this.preferences.saveAlerts({ sound: this.state.alerts.sound, notify: this.state.alerts.notify });
  }
}
