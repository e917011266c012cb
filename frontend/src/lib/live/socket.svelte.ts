// One WebSocket keeps the board in sync: it reconnects with backoff, asks for what it missed with
// ?since=<last seq>, and says when the events it missed are gone (resync: reload from REST).
import { getToken } from '../api/client';
import type { BoardEvent, Frame } from './events';

export type LiveStatus = 'connecting' | 'live' | 'offline';

type Listener = (event: BoardEvent) => void;

export type SocketFactory = (url: string) => WebSocket;

export function backoffDelay(failures: number, base = 250, cap = 10_000): number {
  // Full jitter keeps many boards from reconnecting in lockstep after a restart.
  const ceiling = Math.min(cap, base * 2 ** Math.min(failures, 16));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export class LiveSocket {
  status = $state<LiveStatus>('connecting');
  /**
   * The connection dropped and no new one has said hello yet: the server is unreachable, also
   * while a retry is connecting (actions that need the server are off until it answers).
   */
  unreachable = $state(false);
  /** The last board event seq applied; null until the first hello. */
  lastSeq: number | null = null;
  #listeners = new Set<Listener>();
  #resyncListeners = new Set<() => void>();
  #downListeners = new Set<() => void>();
  #socket: WebSocket | null = null;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #url: string;
  #factory: SocketFactory;

  constructor(url?: string, factory: SocketFactory = (u) => new WebSocket(u)) {
    this.#url = url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.#factory = factory;
  }

  /** Board events, in seq order, exactly once each. Returns the unsubscribe function. */
  subscribe = (listener: Listener): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Called when the client must reload from REST: first connect, and when the server says resync. */
  onResync = (listener: () => void): (() => void) => {
    this.#resyncListeners.add(listener);
    return () => this.#resyncListeners.delete(listener);
  };

  /** Called each time a connection attempt ends (the server is down, or refused us: ask the REST API why). */
  onDown = (listener: () => void): (() => void) => {
    this.#downListeners.add(listener);
    return () => this.#downListeners.delete(listener);
  };

  connect = (): void => {
    this.#closed = false;
    this.#open();
  };

  close = (): void => {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket?.close();
    this.#socket = null;
    this.status = 'offline';
  };

  #open(): void {
    this.status = 'connecting';
    const params = new URLSearchParams();
    if (this.lastSeq !== null) params.set('since', String(this.lastSeq));
    const token = getToken();
    if (token) params.set('token', token);
    const query = params.toString();
    const socket = this.#factory(query ? `${this.#url}?${query}` : this.#url);
    this.#socket = socket;
    socket.onmessage = (message) => this.#receive(JSON.parse(String(message.data)) as Frame);
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#closed) return;
      this.status = 'offline';
      this.unreachable = true;
      for (const listener of this.#downListeners) listener();
      const delay = backoffDelay(this.#failures++);
      this.#timer = setTimeout(() => this.#open(), delay);
    };
    socket.onerror = () => socket.close();
  }

  #receive(frame: Frame): void {
    if (frame.type === 'hello') {
      this.#failures = 0;
      this.status = 'live';
      this.unreachable = false;
      if (this.lastSeq === null) {
        // First connection: everything after this seq comes over the socket; load the rest.
        this.lastSeq = frame.data.seq;
        this.#resync();
      }
      return;
    }
    if (frame.type === 'resync') {
      // The events we missed are gone; the server streams on from its latest seq: reload.
      const seq = (frame.data as { seq?: number } | undefined)?.seq;
      if (typeof seq === 'number') this.lastSeq = seq;
      this.#resync();
      return;
    }
    if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // already applied
    this.lastSeq = frame.seq;
    for (const listener of this.#listeners) listener(frame);
  }

  #resync(): void {
    for (const listener of this.#resyncListeners) listener();
  }
}
