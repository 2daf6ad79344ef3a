// What the parts of the application share: the store, the connection, storage and a clock. The
// controller builds one and hands it to the outbox, read receipts and typing modules.
import type { ProtocolClient } from '../protocol/client';
import type { Timers } from '../protocol/timers';
import type { AccountId } from '../protocol/types';
import type { ChatStore } from '../store/chat';
import type { ClientPersistence } from '../store/persistence';

export interface AppContext {
  readonly store: ChatStore;
  readonly client: ProtocolClient;
  readonly persistence: ClientPersistence;
  readonly timers: Timers;
  now(): number;
  /** The signed-in account, or null on the nickname screen. */
  accountId(): AccountId | null;
  /** Tell the person what went wrong (or quietly repair a lost binding). */
  report(error: unknown): void;
  /** Tell the person something went well or happened (a short notice). */
  inform(text: string): void;
}
