// What this browser remembers for every tab and visit, in localStorage: preferences, never
// credentials (those stay per tab in sessionStorage, see persistence.ts).
import { isStringArray, type KeyValueStorage } from './persistence';

const INTERESTS_KEY = 'pairchat.interests';

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

  saveInterests(interests: readonly string[]): void {
    try {
      if (interests.length === 0) this.storage?.removeItem(INTERESTS_KEY);
      else this.storage?.setItem(INTERESTS_KEY, JSON.stringify(interests));
    } catch {
      // Storage disabled or full: the interests only last for this page.
    }
  }
}
