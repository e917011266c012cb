import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BoardEvent } from '../../live/events';
import { APP_CONTEXT_KEY } from '../../state/context';
import { MetricsState } from '../../state/metrics.svelte';
import { makeMetrics } from '../../testing/metrics';
import MetricsPage from './MetricsPage.svelte';

vi.mock('./Chart.svelte', async () => ({ default: (await import('./testing/ChartStub.svelte')).default }));

const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });

function show(answers: ((url: URL) => unknown)[] = [() => makeMetrics()]) {
  const asked: URL[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const parsed = new URL(url, 'http://localhost');
      asked.push(parsed);
      return json(answers[Math.min(asked.length - 1, answers.length - 1)](parsed));
    }),
  );
  const listeners = new Set<(event: BoardEvent) => void>();
  const live = {
    subscribe: (fn: (event: BoardEvent) => void) => (listeners.add(fn), () => listeners.delete(fn)),
    onResync: () => () => {},
  };
  const board = { repos: [{ id: 'r1', name: 'alpha' }, { id: 'r2', name: 'beta' }] };
  const metrics = new MetricsState({ repo: null, days: 30 }, { timezone: 'UTC', wait: 10 });
  const send = (type: string) => listeners.forEach((fn) => fn({ type, seq: 2, at: '', data: {} } as unknown as BoardEvent));
  render(MetricsPage, { props: { metrics }, context: new Map([[APP_CONTEXT_KEY, { board, live }]]) });
  return { asked, metrics, send, listeners };
}

const tileValue = (label: string) => screen.getByText(label, { selector: 'dt' }).parentElement?.querySelector('.value')?.textContent;

describe('MetricsPage', () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    history.replaceState(null, '', '/');
  });

  it('shows the figures, both charts with each day, and the tables', async () => {
    show();
    await screen.findByText('Spend per day');
    expect(tileValue('Cards done')).toBe('2');
    expect(tileValue('First-time success')).toBe('33%');
    expect(tileValue('Spend')).toBe('$1.25');
    expect(tileValue('Learnings used')).toBe('—');
    const spend = screen.getByRole('figure', { name: 'Spend per day' });
    expect(within(spend).getByRole('status').textContent).toBe(JSON.stringify([[0, 0.5, 0.75], [0, 5500, 8000]]));
    const cards = screen.getByRole('figure', { name: 'Cards and attempts per day' });
    expect(cards.textContent).toContain('Cards done, Attempts, Failed attempts');

    const reasons = screen.getByRole('table', { name: /Why attempts failed/ });
    expect(within(reasons).getAllByRole('row').slice(1).map((r) => r.textContent)).toEqual(['Check failed: test1', 'Timed out1']);
    const costly = screen.getByRole('table', { name: 'Costliest cards' });
    expect(within(costly).getByRole('link', { name: 'Costly card' }).getAttribute('href')).toBe('?card=c1');
    const days = screen.getByRole('table', { name: 'Days' });
    expect(within(days).getAllByRole('row').slice(1).map((r) => r.firstElementChild?.textContent)).toEqual(['2026-06-15', '2026-06-14']);
  });

  it('filters by repo and period, in the URL', async () => {
    const { asked } = show();
    await screen.findByText('Spend per day');
    await fireEvent.change(screen.getByLabelText('Metrics repository'), { target: { value: 'r2' } });
    await fireEvent.change(screen.getByLabelText('Metrics period'), { target: { value: '90' } });
    await vi.waitFor(() => expect(asked).toHaveLength(3));
    expect(Object.fromEntries(asked[2].searchParams)).toEqual({ repo: 'r2', days: '90', tz: 'UTC' });
    expect(location.search).toBe('?repo=r2&days=90');
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual([
      'All repositories', 'alpha', 'beta', 'Last 7 days', 'Last 30 days', 'Last 90 days', 'Last year',
    ]);
  });

  it('updates from board events, and stops listening when it goes', async () => {
    const { asked, send, listeners } = show([() => makeMetrics(), () => makeMetrics({ cards: { ...makeMetrics().cards, done: 3 } })]);
    await screen.findByText('Spend per day');
    send('job_event');
    send('card_updated');
    send('job_status');
    await vi.waitFor(() => expect(tileValue('Cards done')).toBe('3'));
    expect(asked).toHaveLength(2);
    cleanup();
    expect(listeners.size).toBe(0);
  });

  it('says when nothing ran in the period', async () => {
    const empty = makeMetrics({
      per_day: makeMetrics().per_day.map((d) => ({ ...d, cards_done: 0, attempts: 0, failed_attempts: 0, cost_usd: 0, input_tokens: 0, output_tokens: 0 })),
      failures: { total: 0, reasons: [] },
      costliest_cards: [],
    });
    show([() => empty]);
    await screen.findByText(/Nothing ran in this period/);
    expect(screen.getByText('No attempt failed in this period.')).toBeTruthy();
    expect(screen.getByText('Nothing happened in this period.')).toBeTruthy();
  });
});
