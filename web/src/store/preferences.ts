// What this browser remembers for every tab and visit, in localStorage: preferences, never
// credentials (those stay per tab in sessionStorage, see persistence.ts).
import { isStringArray, type KeyValueStorage } from './persistence';

const INTERESTS_KEY = 'pairchat.interests';
const ALERTS_KEY = 'pairchat.alerts';

/** The opt-in signals while the page is hidden (both off until the person turns them on). */
export interface AlertChoices {
  sound: boolean;
  notify: boolean;
}

export class Preferences {
  /** Without a storage (none offered, or tests that do not care) nothing is remembered. */
  constructor(private readonly storage: KeyValueStorage | null) {}

  /** The interests last used, as saved (the caller re-applies the rules). */
  loadInterests(): string[] {
    try {
      const raw = this.storage?.getItem(INTERESTS_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return isStringArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  loadAlerts(): AlertChoices {
    try {
      const raw = this.storage?.getItem(ALERTS_KEY);
      const parsed = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
      return { sound: parsed.sound === true, notify: parsed.notify === true };
    } catch {
      return { sound: false, notify: false };
    }
  }

  saveAlerts(choices: AlertChoices): void {
    try {
      this.storage?.setItem(ALERTS_KEY, JSON.stringify(choices));
    } catch {
      // See saveInterests.
    }
  }

  saveInterests(interests: readonly string[]): void {
    try {
      if (interests.length === 0) this.storage?.removeItem(INTERESTS_KEY);
      else this.storage?.setItem(INTERESTS_KEY, JSON.stringify(interests));
    } catch {
      // Storage disabled or full: the interests only last for this page.
    }
  }
}
