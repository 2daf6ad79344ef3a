// The moderator console's state and actions: the token (kept in sessionStorage only), the reports
// of the chosen status, the bans, the audit log, and what banning, suspending, dismissing and
// lifting do to them. No DOM: the views read `state` and call the methods.
import { reactive } from 'vue';
import type { KeyValueStorage } from '../store/persistence';
import {
  ApiError,
  ModerationApi,
  type AuditAction,
  type Ban,
  type FetchLike,
  type Id,
  type Report,
  type ReportFilter,
} from './api';

export const TOKEN_KEY = 'pairchat.adminToken';
/** "Suspend 24 h". */
export const SUSPEND_SECONDS = 24 * 60 * 60;

export interface ConsoleState {
  /** Signed in while a token is held; it is checked by the first call that uses it. */
  signedIn: boolean;
  /** Why the token form is shown again ("Wrong token."), or null. */
  tokenError: string | null;
  filter: ReportFilter;
  reports: Report[];
  bans: Ban[];
  audit: AuditAction[];
  loading: boolean;
  /** Keys of the rows and bans with a request on its way (`report:<id>`, `ban:<id>`). */
  busy: string[];
  /** The last failure, for the alert line; null when the last action went well. */
  error: string | null;
  /** The last success, for the status line. */
  done: string | null;
}

export interface ConsoleOptions {
  fetch: FetchLike;
  /** sessionStorage: the token lasts as long as the tab, never longer. */
  storage: KeyValueStorage;
  /** Origin of the API; empty (the default) for the page's own. */
  base?: string;
}

/** Whether an evidence message was written by the reporter or the reported account. */
export function speakerOf(report: Report, senderId: Id): 'reporter' | 'reported' | 'other' {
  if (String(senderId) === String(report.reporterId)) return 'reporter';
  if (String(senderId) === String(report.reportedId)) return 'reported';
  return 'other';
}

export class ModerationConsole {
  readonly state: ConsoleState;
  private api: ModerationApi | null = null;

  constructor(private readonly options: ConsoleOptions) {
    this.state = reactive<ConsoleState>({
      signedIn: false,
      tokenError: null,
      filter: 'open',
      reports: [],
      bans: [],
      audit: [],
      loading: false,
      busy: [],
      error: null,
      done: null,
    });
  }

  /** Use the token this tab already gave, if any. */
  async start(): Promise<void> {
    const token = this.read();
    if (token) await this.signIn(token);
  }

  /** Keep the token for this tab and load everything with it (a 401 comes back as tokenError). */
  async signIn(token: string): Promise<void> {
    const trimmed = token.trim();
    if (trimmed === '') {
      this.state.tokenError = 'Enter the admin token.';
      return;
    }
    this.api = new ModerationApi(trimmed, this.options.fetch, this.options.base ?? '');
    this.write(trimmed);
    this.state.signedIn = true;
    this.state.tokenError = null;
    await this.reload();
  }

  /** Forget the token: this tab asks for it again. */
  signOut(tokenError: string | null = null): void {
    this.api = null;
    this.remove();
    Object.assign(this.state, {
      signedIn: false,
      tokenError,
      reports: [],
      bans: [],
      audit: [],
      busy: [],
      error: null,
      done: null,
    });
  }

  async reload(): Promise<void> {
    this.state.loading = true;
    try {
      await this.run(async (api) => {
        // The reports first, alone: a wrong token then costs one refused call, not three.
        this.state.reports = newestFirst(await api.reports(this.state.filter));
        await this.refreshSidebars(api);
      });
    } finally {
      this.state.loading = false;
    }
  }

  async setFilter(filter: ReportFilter): Promise<void> {
    this.state.filter = filter;
    this.state.loading = true;
    try {
      await this.run(async (api) => {
        const reports = await api.reports(filter);
        if (this.state.filter === filter) this.state.reports = newestFirst(reports);
      });
    } finally {
      this.state.loading = false;
    }
  }

  /**
   * Ban the reported account (for good, or for `durationSeconds`), then mark the report resolved.
   */
  async ban(report: Report, durationSeconds?: number): Promise<void> {
    await this.busyWith(`report:${report.id}`, async (api) => {
      await api.ban({
        accountId: report.reportedId,
        reason: `report ${report.id}: ${report.reason}`,
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      });
      const what = durationSeconds === undefined ? 'Banned' : 'Suspended';
      try {
        await api.setReportStatus(report.id, 'resolved');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) throw error;
        await this.refreshSidebars(api);
        throw new Error(
          `${what} account ${report.reportedId}, but report ${report.id} is still open: ` +
            describe(error),
        );
      }
      this.closed(report, 'resolved');
      await this.refreshSidebars(api);
      this.state.done = `${what} account ${report.reportedId}; report ${report.id} resolved.`;
    });
  }

  async dismiss(report: Report): Promise<void> {
    await this.busyWith(`report:${report.id}`, async (api) => {
      await api.setReportStatus(report.id, 'dismissed');
      this.closed(report, 'dismissed');
      this.state.audit = await api.audit();
      this.state.done = `Report ${report.id} dismissed.`;
    });
  }

  async banAddress(address: string, reason: string, durationSeconds?: number): Promise<boolean> {
    let banned = false;
    await this.busyWith('ban:new', async (api) => {
      await api.ban({
        address: address.trim(),
        reason: reason.trim(),
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      });
      await this.refreshSidebars(api);
      this.state.done = `Banned ${address.trim()}.`;
      banned = true;
    });
    return banned;
  }

  async liftBan(ban: Ban): Promise<void> {
    await this.busyWith(`ban:${ban.id}`, async (api) => {
      await api.liftBan(ban.id);
      this.state.bans = this.state.bans.filter((b) => String(b.id) !== String(ban.id));
      this.state.audit = await api.audit();
      this.state.done = `Ban ${ban.id} lifted.`;
    });
  }

  isBusy(key: string): boolean {
    return this.state.busy.includes(key);
  }

  // ---- internals ------------------------------------------------------------------------------

  /** A report left "open": gone from the open list, its new status shown anywhere else. */
  private closed(report: Report, status: 'resolved' | 'dismissed'): void {
    const id = String(report.id);
    if (this.state.filter === 'open') {
      this.state.reports = this.state.reports.filter((r) => String(r.id) !== id);
    } else {
      for (const r of this.state.reports) if (String(r.id) === id) r.status = status;
    }
  }

  private async refreshSidebars(api: ModerationApi): Promise<void> {
    const [bans, audit] = await Promise.all([api.bans(), api.audit()]);
    this.state.bans = bans;
    this.state.audit = audit;
  }

  private async busyWith(key: string, action: (api: ModerationApi) => Promise<void>): Promise<void> {
    if (this.isBusy(key)) return;
    this.state.busy.push(key);
    try {
      await this.run(action);
    } finally {
      this.state.busy = this.state.busy.filter((k) => k !== key);
    }
  }

  /** Run a call with the API; a 401 signs out with "wrong token", anything else becomes `error`. */
  private async run(action: (api: ModerationApi) => Promise<void>): Promise<void> {
    const api = this.api;
    if (!api) return;
    this.state.error = null;
    this.state.done = null;
    try {
      await action(api);
    } catch (error) {
      if (this.api !== api) return; // signed out meanwhile
      if (error instanceof ApiError && error.status === 401) {
        this.signOut('Wrong token.');
        return;
      }
      this.state.error = describe(error);
    }
  }

  private read(): string | null {
    try {
      return this.options.storage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  private write(token: string): void {
    try {
      this.options.storage.setItem(TOKEN_KEY, token);
    } catch {
      // Storage disabled: the token lasts until the page is reloaded.
    }
  }

  private remove(): void {
    try {
      this.options.storage.removeItem(TOKEN_KEY);
    } catch {
      // Nothing was stored either.
    }
  }
}

function newestFirst(reports: Report[]): Report[] {
  return [...reports].sort((a, b) => b.createdAt - a.createdAt);
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  // fetch rejects with a TypeError when the server cannot be reached at all.
  if (error instanceof TypeError) return 'Could not reach the server.';
  return error instanceof Error ? error.message : String(error);
}
