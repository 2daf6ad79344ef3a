// Test doubles: a scriptable WebSocket, a socket "network" that records every socket opened, and an
// in-memory Web Storage.
import type { SocketLike } from '../src/protocol/client';
import type { KeyValueStorage } from '../src/store/persistence';

export type Frame = Record<string, unknown>;

export class FakeSocket implements SocketLike {
  readonly sent: Frame[] = [];
  closed = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.closed) throw new Error('send on a closed socket');
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(): void {
    this.closed = true;
  }

  // ---- driven by the test ----

  open(): void {
    this.onopen?.({});
  }

  /** Deliver a frame from the "server". */
  receive(frame: Frame | string): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  /** The connection dies (network loss, server restart), or the server closes it with a code. */
  drop(code = 1006, reason = ''): void {
    this.closed = true;
    this.onclose?.({ code, reason });
  }

  /** Frames sent with this cmd (requests and acks). */
  frames(cmd: string): Frame[] {
    return this.sent.filter((frame) => frame.cmd === cmd);
  }

  /** The last request sent with this cmd; fails the test if there is none. */
  last(cmd: string): Frame {
    const frames = this.frames(cmd).filter((frame) => frame.code === undefined);
    const frame = frames[frames.length - 1];
    if (!frame) throw new Error(`no ${cmd} request was sent; sent: ${JSON.stringify(this.sent)}`);
    return frame;
  }

  /** Answer the last request of this cmd with code 0 and these fields. */
  answer(cmd: string, fields: Frame = {}, request: Frame = this.last(cmd)): void {
    this.receive({ cmd, requestId: request.requestId, code: 0, ...fields });
  }

  fail(cmd: string, code: number, msg = 'refused', request: Frame = this.last(cmd)): void {
    this.receive({ cmd, requestId: request.requestId, code, msg });
  }
}

export class FakeNetwork {
  readonly sockets: FakeSocket[] = [];
  readonly factory = (url: string): SocketLike => {
    const socket = new FakeSocket(url);
    this.sockets.push(socket);
    return socket;
  };

  get current(): FakeSocket {
    const socket = this.sockets[this.sockets.length - 1];
    if (!socket) throw new Error('no socket was opened');
    return socket;
  }
}

export class MemoryStorage implements KeyValueStorage {
  readonly data = new Map<string, string>();
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
}

/** Let pending promise callbacks run (responses resolve request promises asynchronously). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
