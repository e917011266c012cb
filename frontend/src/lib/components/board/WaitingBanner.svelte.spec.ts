import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobRead, WaitingReason } from '../../api';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { RunnerState } from '../../state/runners.svelte';
import { makeCard } from '../../testing/cards';
import TileJob from './TileJob.svelte';
import WaitingBanner from './WaitingBanner.svelte';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const reason = (code: WaitingReason['code'], message: string, fields: Partial<WaitingReason> = {}): WaitingReason => ({
  code, message, ahead: 0, busy: 0, runners: 0, starting: [], failed: [], ...fields,
});

function setup(reasons: Record<string, WaitingReason>, fetched: Record<string, unknown> = {}) {
  const calls: { key: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const key = `${init.method ?? 'GET'} ${url}`;
      calls.push({ key, body: init.body ? JSON.parse(String(init.body)) : null });
      return new Response(JSON.stringify(fetched[key] ?? { detail: 'Not found.' }), { status: fetched[key] ? 200 : 404 });
    }),
  );
  const board = new BoardState();
  board.repoId = 'repo-1';
  board.cards = Object.keys(reasons).map((jobId) => makeCard({ status: 'in_progress', job_id: jobId }));
  const runners = new RunnerState();
  runners.pool = { runners: [], local: 0, docker: 0, docker_available: false };
  runners.waiting = reasons;
  const context = new Map([[APP_CONTEXT_KEY, { board, runners, live: { status: 'live', unreachable: false } }]]);
  return { board, runners, calls, context };
}

describe('WaitingBanner', () => {
  it('says no runner is running and starts a local one with one click', async () => {
    const none = reason('no_runner', 'waiting for a runner — none is running');
    const { runners, calls, context } = setup({ j1: none, j2: none }, {
      'POST /api/runners/scale': { runners: [], local: 1, docker: 0, docker_available: false, waiting: {} },
    });
    render(WaitingBanner, { context });
    expect(screen.getByRole('status', { name: 'Waiting for a runner' }).textContent).toContain(
      '2 cards waiting for a runner — none is running.',
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Start a local runner' }));
    await vi.waitFor(() => expect(runners.managed('local')).toBe(1));
    expect(calls).toEqual([{ key: 'POST /api/runners/scale', body: { kind: 'local', count: 1 } }]);
    // The server's answer carried no waiting job: the banner is gone.
    await vi.waitFor(() => expect(screen.queryByRole('status', { name: 'Waiting for a runner' })).toBeNull());
  });

  it('offers Retry when the pool gave up on a crashing runner', async () => {
    const failed = reason('runner_failed', 'waiting for a runner — local-1 keeps crashing and was stopped; retry in the runner panel', {
      failed: ['local-1'],
    });
    const { calls, context, runners } = setup({ j1: failed }, {
      'POST /api/runners/scale': { runners: [], local: 1, docker: 0, docker_available: false, waiting: {} },
    });
    runners.pool = { runners: [], local: 1, docker: 0, docker_available: false };
    render(WaitingBanner, { context });
    expect(screen.getByRole('status', { name: 'Waiting for a runner' }).textContent).toContain('local-1 keeps crashing');
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await vi.waitFor(() => expect(calls.map((c) => c.body)).toEqual([{ kind: 'local', count: 1 }]));
  });

  it('shows nothing while cards only wait their turn', () => {
    const { context } = setup({ j1: reason('busy', 'waiting: 2 ahead, 1 runner busy', { ahead: 2, busy: 1, runners: 1 }) });
    render(WaitingBanner, { context });
    expect(screen.queryByRole('status', { name: 'Waiting for a runner' })).toBeNull();
  });

  it('puts the reason on the queued tile', () => {
    const { context, board } = setup({ j1: reason('busy', 'waiting: 2 ahead, 1 runner busy', { ahead: 2, busy: 1, runners: 1 }) });
    const job = { id: 'j1', card_id: board.cards[0].id, kind: 'build', status: 'queued', queued_at: new Date().toISOString() } as JobRead;
    render(TileJob, { props: { card: board.cards[0], job }, context });
    expect(screen.getByText('queued')).toBeTruthy();
    expect(screen.getByText('waiting: 2 ahead, 1 runner busy')).toBeTruthy();
  });
});
