import { afterEach, describe, expect, it, vi } from 'vitest';
import { planBuild, step } from '../components/card/testing/runs';
import type { BoardEvent } from '../live/events';
import { BoardState } from './board.svelte';
import { newerRun, runProgress, stepChain, stepElapsedMs, stepName, stepSummary } from './runs';

afterEach(() => vi.unstubAllGlobals());

const runEvent = (run: ReturnType<typeof planBuild>, repoId = 'repo-1') =>
  ({ seq: 1, at: '', type: 'run_updated', data: { repo_id: repoId, run } }) as unknown as BoardEvent;

describe('run helpers', () => {
  it('names steps, chains workflows and times steps', () => {
    expect(stepName(step({ kind: 'loop', iteration: 3 }))).toBe('loop 3');
    expect(stepName(step({ kind: 'plan' }))).toBe('plan');
    expect(stepChain(['plan', 'build', 'verify'])).toBe('plan → build → verify');
    expect(stepElapsedMs(step(), 0)).toBeNull();
    const started = step({ started_at: '2026-01-01T00:00:00Z' });
    expect(stepElapsedMs(started, Date.parse('2026-01-01T00:00:05Z'))).toBe(5000);
    expect(stepElapsedMs({ ...started, finished_at: '2026-01-01T00:00:02Z' }, Date.now())).toBe(2000);
  });

  it('sums a step up in one line', () => {
    const [plan] = planBuild().steps;
    expect(stepSummary(plan, Date.now())).toBe('plan: done · 30.0s · 1 commit · 1 file +24 −0');
    expect(stepSummary({ ...plan, status: 'failed', attempts: 2, commits: 0, files_changed: 0 }, Date.now())).toBe('plan: failed · 30.0s · 2 attempts');
  });

  it('says where a run is', () => {
    expect(runProgress(planBuild())).toBe('plan_build · step 2 of 3');
    expect(runProgress(planBuild({ status: 'waiting', phase: 'plan_review' }))).toBe('waiting for the plan’s review');
    expect(runProgress(planBuild({ status: 'succeeded', phase: null }, []))).toBe('plan_build · succeeded');
  });

  it('keeps the newer of two runs of a card', () => {
    const old = planBuild({ started_at: '2026-01-01T00:00:00Z' });
    const later = planBuild({ started_at: '2026-01-02T00:00:00Z' });
    expect(newerRun(undefined, old)).toBe(true);
    expect(newerRun(old, later)).toBe(true);
    expect(newerRun(later, old)).toBe(false);
    expect(newerRun(later, { ...later, status: 'failed' })).toBe(true); // the same run, changed
  });
});

describe('BoardState runs', () => {
  it('holds each card’s latest run from run_updated events of its repo', () => {
    const board = new BoardState();
    board.repoId = 'repo-1';
    const run = planBuild({ started_at: '2026-01-02T00:00:00Z' });
    board.apply(runEvent(run));
    expect(board.runs[run.card_id]).toEqual(run);
    board.apply(runEvent(planBuild({ started_at: '2026-01-01T00:00:00Z' }))); // an older run of the card
    expect(board.runs[run.card_id].id).toBe(run.id);
    board.apply(runEvent(planBuild({ started_at: '2026-01-03T00:00:00Z' }), 'repo-2')); // another repo's
    expect(board.runs[run.card_id].id).toBe(run.id);
    const done = { ...run, status: 'succeeded' as const, phase: null };
    board.apply(runEvent(done));
    expect(board.runs[run.card_id].status).toBe('succeeded');
  });

  it('loads the current runs with the board, and shows the board even when they cannot be read', async () => {
    const run = planBuild({ card_id: 'c1' });
    const answers: Record<string, () => Response> = {
      '/api/repos/repo-1/current-runs': () => Response.json([run]),
      '/api/repos/repo-2/current-runs': () => Response.json({ detail: 'boom', code: 'internal_error' }, { status: 500 }),
    };
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string) => {
        const path = new URL(input, 'http://localhost').pathname;
        if (answers[path]) return answers[path]();
        if (path.endsWith('/cards')) return Response.json([], { headers: { 'X-Total-Count': '0' } });
        if (path.endsWith('/github')) return Response.json({ detail: 'not linked', code: 'not_found' }, { status: 404 });
        if (path === '/api/workflows') return Response.json({ workflows: [], default_workflow: 'build', problems: {} });
        return Response.json([]);
      }),
    );
    const board = new BoardState();
    await board.selectRepo('repo-1');
    expect(board.runs).toEqual({ c1: run });
    await board.selectRepo('repo-2');
    expect(board.runs).toEqual({});
    expect(board.loadError).toBeNull();
  });
});
