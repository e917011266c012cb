import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { QueueState } from '../../state/queue.svelte';
import { makeEntry, makeQueue, polyfillDialog, reasonOf } from '../../testing/limits';
import QueueView from './QueueView.svelte';

beforeAll(polyfillDialog);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const first = makeEntry(1, 'Next up', reasonOf('next', 'waiting: a runner is taking it'), { priority: 2 });
const held = makeEntry(2, 'Held back', reasonOf('held', 'held: max_running_per_repo 1 of 1 in repo demo'), { waited_s: 3720 });

function setup(responses: unknown[]) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push(`${init.method ?? 'GET'} ${url}`);
      const body = url.startsWith('/api/queue') ? responses.shift() : { id: 'job-2', status: 'cancelled' };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }),
  );
  const board = new BoardState();
  board.repos = [{ id: 'repo-1', name: 'demo' } as never];
  board.repoId = 'repo-1';
  const queue = new QueueState();
  const context = new Map([[APP_CONTEXT_KEY, { board, queue, live: { status: 'live', unreachable: false } }]]);
  return { board, queue, calls, context };
}

describe('QueueView', () => {
  it('lists the queue in dispatch order with reasons, held ones badged, and the stats', async () => {
    const { queue, context } = setup([makeQueue([first, held])]);
    render(QueueView, { context });
    queue.show();
    const list = await screen.findByRole('list', { name: 'Queued attempts in dispatch order' });
    const rows = within(list).getAllByRole('listitem');
    expect(rows.map((r) => r.querySelector('.title')?.textContent)).toEqual(['Next up', 'Held back']);
    expect(within(rows[1]).getByText('held')).toBeTruthy();
    expect(within(rows[1]).getByText('held: max_running_per_repo 1 of 1 in repo demo')).toBeTruthy();
    expect(within(rows[1]).getByText('waited 1h 02m')).toBeTruthy();
    expect(within(rows[0]).queryByText('held')).toBeNull();
    expect(screen.getByLabelText('Queue stats').textContent).toContain('2 attempts queued · 1 held · 1 running');
    expect(screen.getByLabelText('Depth per priority').textContent).toContain('High 1');
  });

  it('cancels a held attempt and shows the queue without it', async () => {
    const { queue, calls, context } = setup([makeQueue([first, held]), makeQueue([first])]);
    render(QueueView, { context });
    queue.show();
    await fireEvent.click(await screen.findByRole('button', { name: 'Cancel Held back' }));
    await vi.waitFor(() => expect(screen.queryByText('Held back')).toBeNull());
    expect(calls).toEqual(['GET /api/queue', 'POST /api/jobs/job-2/cancel', 'GET /api/queue']);
  });

  it('reloads once after a burst of queue events while open, and not at all once closed', async () => {
    vi.useFakeTimers();
    const { queue, calls, context } = setup([makeQueue([first]), makeQueue([first, held]), makeQueue([])]);
    render(QueueView, { context });
    queue.show();
    await vi.waitFor(() => expect(queue.queue?.jobs.length).toBe(1));
    for (let seq = 1; seq <= 5; seq++) queue.apply({ type: 'queue_updated', seq, at: '', data: { waiting: {} } });
    await vi.advanceTimersByTimeAsync(200);
    await vi.waitFor(() => expect(queue.queue?.jobs.length).toBe(2));
    expect(calls).toEqual(['GET /api/queue', 'GET /api/queue']);
    queue.hide();
    queue.apply({ type: 'queue_updated', seq: 6, at: '', data: { waiting: {} } });
    await vi.advanceTimersByTimeAsync(200);
    expect(calls.length).toBe(2);
  });

  it("filters to the board's repo on request", async () => {
    const { queue, calls, context } = setup([makeQueue([first, held]), makeQueue([held])]);
    render(QueueView, { context });
    queue.show();
    await screen.findByText('Next up');
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Only demo' }));
    await vi.waitFor(() => expect(screen.queryByText('Next up')).toBeNull());
    expect(calls.at(-1)).toBe('GET /api/queue?repo=repo-1');
  });
});
