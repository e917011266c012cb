import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JobRead } from '../../api';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { LimitsState } from '../../state/limits.svelte';
import { RunnerState } from '../../state/runners.svelte';
import { toasts } from '../../state/toasts.svelte';
import { makeCard } from '../../testing/cards';
import { makeLimits, makeRepoLimits, polyfillDialog, reasonOf } from '../../testing/limits';
import ColumnHeader from '../board/ColumnHeader.svelte';
import TileJob from '../board/TileJob.svelte';
import JobInfo from '../card/JobInfo.svelte';
import LimitsDialog from './LimitsDialog.svelte';
import SpendMeter from './SpendMeter.svelte';

beforeAll(polyfillDialog);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

type Answer = { status: number; body: unknown };

function setup(answers: Record<string, Answer> = {}) {
  const calls: { key: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const key = `${init.method ?? 'GET'} ${url}`;
      calls.push({ key, body: init.body ? JSON.parse(String(init.body)) : null });
      const answer = answers[key] ?? { status: 404, body: { detail: 'Not found.', code: 'not_found' } };
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
    }),
  );
  const board = new BoardState();
  board.repos = [{ id: 'repo-1', name: 'demo' } as never];
  board.repoId = 'repo-1';
  const runners = new RunnerState();
  const limits = new LimitsState();
  const context = new Map([[APP_CONTEXT_KEY, { board, runners, limits, live: { status: 'live', unreachable: false } }]]);
  return { board, runners, limits, calls, context };
}

describe('the held badge', () => {
  it('badges a queued job a limit holds, with the reason and its figures', () => {
    const { context, runners } = setup();
    runners.waiting = { j1: reasonOf('held', 'held: daily_usd 19.80 of 19.80') };
    const card = makeCard({ status: 'in_progress', job_id: 'j1' });
    const job = { id: 'j1', card_id: card.id, kind: 'build', status: 'queued', queued_at: new Date().toISOString() } as JobRead;
    render(TileJob, { props: { card, job }, context });
    expect(screen.getByText('held')).toBeTruthy();
    expect(screen.queryByText('queued')).toBeNull();
    const line = screen.getByText('held: daily_usd 19.80 of 19.80');
    expect(line.dataset.waiting).toBe('held');
  });
});

describe('the card modal', () => {
  it("says why the card's queued job waits, held by which limit", () => {
    const { context, runners } = setup();
    runners.waiting = { j1: reasonOf('held', 'held: failure_cooldown_after 3 of 3 failed runs in a row in repo demo') };
    const job = { id: 'j1', status: 'queued', kind: 'build', agent: 'claude', phase: null, attempt: 0, queued_at: new Date().toISOString() } as JobRead;
    render(JobInfo, { props: { job }, context });
    const line = screen.getByText('held: failure_cooldown_after 3 of 3 failed runs in a row in repo demo', { exact: false });
    expect(line.dataset.waiting).toBe('held');
    expect(line.textContent).toContain('held');
  });
});

describe('the running cap on In Progress', () => {
  it('shows how many of the repo run against its cap, marked when full', () => {
    render(ColumnHeader, { props: { status: 'in_progress', title: 'In Progress', total: 3, running: { running: 1, cap: 1, key: 'max_running_per_repo' } } });
    const cap = screen.getByLabelText('1 of 1 running (max_running_per_repo)');
    expect(cap.textContent).toBe('running 1/1');
    expect(cap.classList.contains('full')).toBe(true);
  });
});

describe('the spend meter', () => {
  it("shows today's spend against the daily budget and opens the limits", async () => {
    const { context, limits } = setup();
    limits.current = makeLimits({ usage: { spent_usd: 19.8, agent_runs: 3, input_tokens: 0, output_tokens: 0, running: 0 } }, { daily_usd: 20 });
    const onopen = vi.fn();
    render(SpendMeter, { props: { onopen }, context });
    const button = screen.getByRole('button', { name: 'Limits and spend: $19.80 / $20.00 today' });
    expect(button.querySelector('.spend')?.classList.contains('near')).toBe(true);
    await fireEvent.click(button);
    expect(onopen).toHaveBeenCalledOnce();
  });
});

describe('the limits dialog', () => {
  const saved = makeLimits({}, { max_running: 3, daily_usd: 20 });

  it('sends only the changed limits, an emptied one as null, and the repo its own', async () => {
    const repoEntry = makeRepoLimits('repo-1', { limits: { ...makeRepoLimits('repo-1').limits, max_running: 2 } });
    const { context, limits, calls } = setup({
      'GET /api/limits': { status: 200, body: makeLimits({ repos: [repoEntry] }, { max_running: 3, daily_usd: 20 }) },
      'PUT /api/limits': { status: 200, body: saved },
      'PUT /api/repos/repo-1/limits': { status: 200, body: repoEntry },
    });
    await limits.load();
    render(LimitsDialog, { props: { open: true }, context });
    const all = screen.getByRole('group', { name: 'All repos' });
    const budget = all.querySelector<HTMLInputElement>('input[placeholder="no limit"][step="0.01"]')!;
    expect(budget.value).toBe('20');
    await fireEvent.input(budget, { target: { value: '' } });
    const perCard = screen.getAllByRole('spinbutton')[4];
    await fireEvent.input(perCard, { target: { value: '1.5' } });
    const repo = screen.getByRole('group', { name: /Repo demo/ });
    const repoCap = repo.querySelector<HTMLInputElement>('input')!;
    expect(repoCap.placeholder).toBe('no limit');
    expect(repoCap.value).toBe('2');
    await fireEvent.input(repoCap, { target: { value: '1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save limits' }));
    await vi.waitFor(() =>
      expect(calls.filter((c) => c.key.startsWith('PUT'))).toEqual([
        { key: 'PUT /api/limits', body: { daily_usd: null, per_card_usd: 1.5 } },
        { key: 'PUT /api/repos/repo-1/limits', body: { max_running: 1 } },
      ]),
    );
  });

  it("refuses a bad field before sending anything, and shows the server's sentence when it refuses", async () => {
    const { context, limits, calls } = setup({
      'GET /api/limits': { status: 200, body: saved },
      'PUT /api/limits': {
        status: 422,
        body: { detail: 'failure_cooldown_after needs cooldown_s for the global limits: set how many seconds the repo pauses.', code: 'invalid_input' },
      },
    });
    await limits.load();
    render(LimitsDialog, { props: { open: true }, context });
    const [maxRunning] = screen.getAllByRole('spinbutton') as HTMLInputElement[];
    // The browser says what is wrong with a field (a negative count, a fraction of a run) and sends nothing.
    for (const bad of ['-1', '1.5']) {
      await fireEvent.input(maxRunning, { target: { value: bad } });
      expect(maxRunning.validity.valid).toBe(false);
      await fireEvent.click(screen.getByRole('button', { name: 'Save limits' }));
    }
    expect(calls.filter((c) => c.key.startsWith('PUT'))).toEqual([]);

    await fireEvent.input(maxRunning, { target: { value: '3' } });
    const after = screen.getAllByRole('spinbutton')[5];
    await fireEvent.input(after, { target: { value: '3' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save limits' }));
    await vi.waitFor(() => expect(toasts.items.at(-1)?.text).toContain('failure_cooldown_after needs cooldown_s'));
    expect(calls.filter((c) => c.key.startsWith('PUT'))).toEqual([{ key: 'PUT /api/limits', body: { failure_cooldown_after: 3 } }]);
    expect(screen.getByRole('button', { name: 'Save limits' })).toBeTruthy(); // still open
  });
});
