import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BoardEvent } from '../live/events';
import { makeMetrics } from '../testing/metrics';
import { readView, viewUrl } from './view';
import { DEFAULT_DAYS, MetricsState, readFilter, writeFilter } from './metrics.svelte';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
const event = (type: string, data: unknown = {}) => ({ type, seq: 1, at: '2026-06-15T12:00:00Z', data }) as unknown as BoardEvent;

/** Answer GET /api/metrics with `answer(url)`; record the URLs asked. */
function serve(answer: (url: URL) => Response | Promise<Response> = () => json(makeMetrics())) {
  const asked: URL[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const parsed = new URL(url, 'http://localhost');
      asked.push(parsed);
      if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      return answer(parsed);
    }),
  );
  return asked;
}

describe('the metrics filter in the URL', () => {
  it('reads repo and days, and falls back to 30 days for a bad one', () => {
    expect(readFilter('?view=metrics&repo=r1&days=7')).toEqual({ repo: 'r1', days: 7 });
    for (const days of ['0', '366', '2.5', 'week', '']) {
      expect(readFilter(`?days=${days}`)).toEqual({ repo: null, days: DEFAULT_DAYS });
    }
  });

  it('writes them, leaving the defaults out', () => {
    const url = new URL('http://localhost/?view=metrics&card=c1');
    expect(writeFilter(url, { repo: 'r1', days: 90 }).search).toBe('?view=metrics&card=c1&repo=r1&days=90');
    expect(writeFilter(new URL('http://localhost/?view=metrics&repo=r1&days=7'), { repo: null, days: 30 }).search).toBe('?view=metrics');
  });

  it('switches pages without the other page leaving its filter behind', () => {
    expect(readView('?view=metrics')).toBe('metrics');
    expect(readView('?view=other')).toBe('board');
    expect(viewUrl(new URL('http://localhost/?card=c1'), 'metrics').search).toBe('?card=c1&view=metrics');
    expect(viewUrl(new URL('http://localhost/?view=metrics&repo=r&days=7'), 'board').search).toBe('');
  });
});

describe('MetricsState', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('asks for its repo, period and the browser time zone', async () => {
    const asked = serve();
    const metrics = new MetricsState({ repo: 'r1', days: 7 }, { timezone: 'Europe/Berlin' });
    await metrics.load();
    expect(asked.map((u) => [u.pathname, Object.fromEntries(u.searchParams)])).toEqual([
      ['/api/metrics', { repo: 'r1', days: '7', tz: 'Europe/Berlin' }],
    ]);
    expect(metrics.data?.cards.done).toBe(2);
    expect(metrics.updated?.toISOString()).toBe('2026-06-15T12:00:00.000Z');
  });

  it('refetches once after a burst of changes, ignoring agent output', async () => {
    const asked = serve();
    const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC', wait: 1000 });
    await metrics.load();
    metrics.apply(event('job_event'));
    metrics.apply(event('runner_status'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(asked).toHaveLength(1);

    metrics.apply(event('job_status'));
    metrics.apply(event('card_updated'));
    await vi.advanceTimersByTimeAsync(500);
    metrics.apply(event('card_deleted'));
    expect(asked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(asked).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(asked).toHaveLength(2);
  });

  it('waits longer after a load that took long', async () => {
    let slow = true;
    const asked = serve(() => (slow ? new Promise<Response>((ok) => setTimeout(() => ok(json(makeMetrics())), 800)) : json(makeMetrics())));
    const metrics = new MetricsState({ repo: null, days: 365 }, { timezone: 'UTC', wait: 1000 });
    const first = metrics.load();
    await vi.advanceTimersByTimeAsync(800);
    await first;
    slow = false;
    metrics.apply(event('job_status'));
    await vi.advanceTimersByTimeAsync(3000);
    expect(asked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toHaveLength(2);
  });

  it('a change during a load is fetched again after it, not lost', async () => {
    let release: (r: Response) => void = () => {};
    const asked = serve(() => (asked.length === 1 ? new Promise<Response>((ok) => (release = ok)) : json(makeMetrics())));
    const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC', wait: 100 });
    const first = metrics.load();
    metrics.apply(event('job_status'));
    release(json(makeMetrics()));
    await first;
    await vi.advanceTimersByTimeAsync(100);
    expect(asked).toHaveLength(2);
  });

  it('keeps the last figures and says why a load failed, until one succeeds', async () => {
    let fail = false;
    serve(() => (fail ? json({ detail: "No repo has the id or name 'gone'.", code: 'not_found' }, 404) : json(makeMetrics())));
    const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC' });
    await metrics.load();
    fail = true;
    await metrics.load();
    expect(metrics.error).toBe("No repo has the id or name 'gone'.");
    expect(metrics.data?.cards.done).toBe(2);
    fail = false;
    await metrics.load();
    expect(metrics.error).toBeNull();
  });

  it('a newer filter wins over an answer still on its way', async () => {
    const answers: ((r: Response) => void)[] = [];
    serve(() => new Promise<Response>((ok) => answers.push(ok)));
    const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC' });
    const slow = metrics.load();
    metrics.select({ days: 7 });
    answers[1](json(makeMetrics({ days: 7 })));
    answers[0](json(makeMetrics({ days: 30 })));
    await slow;
    await vi.advanceTimersByTimeAsync(0);
    expect(metrics.data?.days).toBe(7);
    expect(new URL(location.href).searchParams.get('days')).toBe('7');
    history.replaceState(null, '', '/');
  });

  it('stops its timer when disposed', async () => {
    const asked = serve();
    const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC', wait: 100 });
    metrics.apply(event('job_status'));
    metrics.dispose();
    await vi.advanceTimersByTimeAsync(1000);
    expect(asked).toHaveLength(0);
  });
});
