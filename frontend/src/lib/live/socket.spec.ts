import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BoardEvent } from './events';
import { LiveSocket, backoffDelay } from './socket.svelte';

class FakeSocket {
  static made: FakeSocket[] = [];
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

const event = (seq: number): BoardEvent => ({ type: 'card_deleted', seq, at: '2026-01-01T00:00:00Z', data: { card_id: `c${seq}`, repo_id: 'r' } });

describe('LiveSocket', () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  function connect() {
    const live = new LiveSocket('ws://x/ws', (url) => new FakeSocket(url) as unknown as WebSocket);
    const seen: number[] = [];
    const reloads = vi.fn();
    live.subscribe((e) => seen.push(e.seq));
    live.onResync(reloads);
    live.connect();
    return { live, seen, reloads };
  }

  it('loads once on the first hello, then applies events in order exactly once', () => {
    const { live, seen, reloads } = connect();
    const socket = FakeSocket.made[0];
    expect(socket.url).toBe('ws://x/ws');
    expect(live.status).toBe('connecting');
    socket.send({ type: 'hello', data: { seq: 10 } });
    expect(live.status).toBe('live');
    expect(reloads).toHaveBeenCalledTimes(1);
    socket.send(event(11));
    socket.send(event(11)); // a duplicate is dropped
    socket.send(event(12));
    expect(seen).toEqual([11, 12]);
  });

  it('stays unreachable from a dropped connection until a new one says hello, retries included', () => {
    const { live } = connect();
    expect(live.unreachable).toBe(false); // the first connect is not an outage
    FakeSocket.made[0].send({ type: 'hello', data: { seq: 1 } });
    FakeSocket.made[0].close();
    expect(live.status).toBe('offline');
    expect(live.unreachable).toBe(true);
    vi.advanceTimersByTime(20_000);
    expect(live.status).toBe('connecting');
    expect(live.unreachable).toBe(true);
    FakeSocket.made.at(-1)!.send({ type: 'hello', data: { seq: 1 } });
    expect(live.unreachable).toBe(false);
  });

  it('reconnects with backoff and asks for what it missed', () => {
    const { live, seen, reloads } = connect();
    FakeSocket.made[0].send({ type: 'hello', data: { seq: 5 } });
    FakeSocket.made[0].send(event(6));
    FakeSocket.made[0].close();
    expect(live.status).toBe('offline');
    vi.advanceTimersByTime(20_000);
    const second = FakeSocket.made[1];
    expect(second.url).toBe('ws://x/ws?since=6');
    second.send({ type: 'hello', data: { seq: 9 } });
    second.send(event(7));
    second.send(event(8));
    expect(seen).toEqual([6, 7, 8]);
    expect(reloads).toHaveBeenCalledTimes(1); // catch-up, not a reload
  });

  it('reloads when the server says the missed events are gone', () => {
    const { live, reloads } = connect();
    FakeSocket.made[0].send({ type: 'hello', data: { seq: 1 } });
    FakeSocket.made[0].send({ type: 'resync', data: { seq: 500 } });
    expect(reloads).toHaveBeenCalledTimes(2);
    expect(live.lastSeq).toBe(500);
  });

  it('stops reconnecting once closed', () => {
    const { live } = connect();
    live.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.made).toHaveLength(1);
    expect(live.status).toBe('offline');
  });
});

describe('backoffDelay', () => {
  it('grows with failures and stays under the cap', () => {
    expect(backoffDelay(0)).toBeLessThanOrEqual(250);
    expect(backoffDelay(3)).toBeGreaterThanOrEqual(1000);
    for (let i = 0; i < 50; i++) expect(backoffDelay(i)).toBeLessThanOrEqual(10_000);
  });
});
