import { cleanup, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRead } from '../../api';
import { CardActions } from '../../state/actions.svelte';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { makeCard } from '../../testing/cards';
import { planBuild, step } from '../card/testing/runs';
import CardTile from './CardTile.svelte';

afterEach(cleanup);

function show(run: RunRead | null) {
  const card = makeCard({ status: 'in_progress', job_id: 'j' });
  const board = new BoardState();
  if (run) board.runs = { [card.id]: { ...run, card_id: card.id } };
  const context = new Map([[APP_CONTEXT_KEY, { board, actions: new CardActions(board), runners: null, live: { status: 'live' } }]]);
  render(CardTile, { props: { card, job: undefined }, context });
  return board;
}

const segments = (strip: HTMLElement) => [...strip.querySelectorAll<HTMLElement>('[data-step]')];

describe('the steps strip on a tile', () => {
  it('is one group naming each step and its status, its segments in order with their figures', () => {
    show(planBuild());
    const strip = screen.getByRole('group', { name: 'Steps of plan_build: plan done, build running, verify pending' });
    expect(segments(strip).map((s) => s.textContent)).toEqual(['plan', 'build', 'verify']);
    expect(segments(strip).map((s) => s.classList.contains('succeeded') || s.classList.contains('running'))).toEqual([true, true, false]);
    expect(segments(strip)[0].title).toBe('plan: done · 30.0s · 1 commit · 1 file +24 −0');
    expect(segments(strip)[2].title).toBe('verify: pending');
    // The tile stays one list item of its column: the strip adds no list of its own.
    expect(screen.queryAllByRole('listitem')).toEqual([]);
  });

  it('says when the run waits for the plan’s review', () => {
    const waiting = planBuild({ status: 'waiting', phase: 'plan_review', review_plan: true }, [
      step({ position: 0, kind: 'plan', status: 'succeeded' }),
      step({ position: 1, kind: 'build' }),
      step({ position: 2, kind: 'verify' }),
    ]);
    show(waiting);
    expect(screen.getByText('plan review')).toBeTruthy();
    expect(screen.getByRole('group', { name: /^Steps of plan_build: plan done, build pending/ })).toBeTruthy();
  });

  it('is left out for a card without a run, and for a run of one step', () => {
    show(null);
    expect(screen.queryByRole('group', { name: /^Steps of/ })).toBeNull();
    cleanup();
    show(planBuild({ workflow: 'plan' }, [step({ kind: 'plan', status: 'running' })]));
    expect(screen.queryByRole('group', { name: /^Steps of/ })).toBeNull();
  });

  it('follows the run as its events come', async () => {
    const board = show(planBuild());
    const [card] = Object.keys(board.runs);
    const run = board.runs[card];
    board.runs = {
      [card]: { ...run, steps: run.steps.map((s) => (s.kind === 'build' ? { ...s, status: 'failed' as const } : s)) },
    };
    await Promise.resolve();
    expect(screen.getByRole('group', { name: /build failed/ })).toBeTruthy();
  });
});
