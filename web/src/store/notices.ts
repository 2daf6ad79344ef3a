// Short notices for the person (errors, "your partner left", "session expired"), each dismissed
// automatically after a while. Timers are injected so tests need no real clock.
import { reactive } from 'vue';
import type { Timers } from '../protocol/timers';

export type NoticeKind = 'error' | 'info';

export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
}

/** How long a notice stays; errors stay longer because they usually ask for an action. */
const LIFETIME_MS: Record<NoticeKind, number> = { info: 5_000, error: 8_000 };
/** Older notices are dropped beyond this many, so a burst of errors cannot cover the screen. */
const MAX_VISIBLE = 4;

export class NoticeBoard {
  readonly notices: Notice[] = reactive([]);
  private nextId = 1;
  private readonly timers: Timers;
  private readonly handles = new Map<number, unknown>();

  constructor(timers: Timers) {
    this.timers = timers;
  }

  /** Show a notice; an identical one already showing is refreshed instead of repeated. */
  show(text: string, kind: NoticeKind = 'error'): number {
    const duplicate = this.notices.find((n) => n.text === text && n.kind === kind);
    if (duplicate) this.dismiss(duplicate.id);
    const id = this.nextId++;
    this.notices.push({ id, kind, text });
    this.handles.set(id, this.timers.setTimeout(() => this.dismiss(id), LIFETIME_MS[kind]));
    while (this.notices.length > MAX_VISIBLE) this.dismiss(this.notices[0]!.id);
    return id;
  }

  dismiss(id: number): void {
    const index = this.notices.findIndex((n) => n.id === id);
    if (index >= 0) this.notices.splice(index, 1);
    const handle = this.handles.get(id);
    if (handle !== undefined) this.timers.clearTimeout(handle);
    this.handles.delete(id);
  }

  clear(): void {
    for (const notice of [...this.notices]) this.dismiss(notice.id);
  }
}
