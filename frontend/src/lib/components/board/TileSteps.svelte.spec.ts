import { cleanup, render, screen, within } from '@testing-library/svelte';
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

describe('the steps strip on a tile', () => {
  it('shows each step of the run in order, with its status and figures', () => {
    show(planBuild());
    const strip = screen.getByRole('list', { name: 'Steps of plan_build' });
    const items = within(strip).getAllByRole('listitem');
    expect(items.map((i) => i.textContent?.trim())).toEqual(['plan', 'build', 'verify']);
    expect(items.map((i) => i.className.split(' ').find((c) => c !== 'step' && !c.startsWith('svelte-')))).toEqual([
      'succeeded',
      'running',
      'pending',
    ]);
    expect(items[0].getAttribute('aria-label')).toBe('plan: done · 30.0s · 1 commit · 1 file +24 −0');
    expect(items[2].getAttribute('aria-label')).toBe('verify: pending');
  });

  it('says when the run waits for the plan’s review', () => {
    const waiting = planBuild({ status: 'waiting', phase: 'plan_review', review_plan: true }, [
      step({ position: 0, kind: 'plan', status: 'succeeded' }),
      step({ position: 1, kind: 'build' }),
      step({ position: 2, kind: 'verify' }),
    ]);
    show(waiting);
    expect(screen.getByText('plan review')).toBeTruthy();
  });

  it('is left out for a card without a run, and for a run of one step', () => {
    show(null);
    expect(screen.queryByRole('list', { name: /^Steps of/ })).toBeNull();
    cleanup();
    show(planBuild({ workflow: 'plan' }, [step({ kind: 'plan', status: 'running' })]));
    expect(screen.queryByRole('list', { name: /^Steps of/ })).toBeNull();
  });

  it('follows the run as its events come', async () => {
    const board = show(planBuild());
    const [card] = Object.keys(board.runs);
    const run = board.runs[card];
    board.runs = {
      [card]: { ...run, steps: run.steps.map((s) => (s.kind === 'build' ? { ...s, status: 'failed' as const } : s)) },
    };
    await Promise.resolve();
    const build = screen.getByRole('listitem', { name: /^build:/ });
    expect(build.getAttribute('aria-label')).toMatch(/^build: failed/);
  });
});
