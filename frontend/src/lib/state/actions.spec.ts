import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CardRead, JobRead } from '../api';
import { makeCard } from '../testing/cards';
import { transitions } from '../testing/transitions';
import { CardActions } from './actions.svelte';
import { BoardState } from './board.svelte';
import { toasts } from './toasts.svelte';

type Call = { method: string; url: string; body: unknown };

/** A fetch stub answering the card endpoints the actions use; records every call. */
function serve(card: CardRead, jobs: Partial<JobRead>[] = []) {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status });
      if (url.endsWith('/jobs')) return json(jobs);
      if (url.endsWith('/start')) return json({ id: 'job-new', card_id: card.id, status: 'queued', queued_at: '2026-01-02T00:00:00Z' }, 201);
      if (url.endsWith('/reject')) return json({ ...card, status: 'todo', branch_name: body?.delete_branch ? null : card.branch_name, updated_at: '2026-01-02T00:00:00Z' });
      if (url.endsWith('/retry')) return json({ card: { ...card, status: 'in_progress', updated_at: '2026-01-02T00:00:00Z' }, job: { id: 'job-r', card_id: card.id } }, 201);
      if (method === 'PATCH') return json({ ...card, ...body, updated_at: '2026-01-02T00:00:00Z' });
      return json({ detail: 'Not found.' }, 404);
    }),
  );
  return calls;
}

function setup(fields: Partial<CardRead>) {
  const board = new BoardState();
  board.moves = transitions.cards;
  const card = makeCard({ title: 'Fix login', ...fields });
  board.cards = [card, makeCard({ title: 'Neighbour', status: 'in_progress' })];
  return { board, actions: new CardActions(board), card };
}

const job = (status: JobRead['status'], minute: number): Partial<JobRead> => ({
  id: `j${minute}`,
  status,
  kind: 'build',
  queued_at: `2026-01-01T00:0${minute}:00Z`,
});
const sent = (calls: Call[]) => calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.url} ${JSON.stringify(c.body ?? null)}`);

afterEach(() => {
  vi.unstubAllGlobals();
  toasts.items = [];
});

describe('CardActions', () => {
  it('asks how to start a card that kept its branch, and starts it as answered', async () => {
    const { board, actions, card } = setup({ status: 'todo', branch_name: 'lazyaf/x-fix', job_id: 'j1' });
    const calls = serve(card);
    expect(await actions.drop(card.id, 'in_progress', 0)).toBe(false);
    expect(actions.prompt).toEqual({ kind: 'start', cardId: card.id, choice: {} }); // a drop runs the repo's default
    expect(board.card(card.id)?.status).toBe('todo'); // put back while asking
    expect(sent(calls)).toEqual([]);
    expect(await actions.confirmStart(true)).toBe(true);
    expect(sent(calls)).toEqual([`POST /api/cards/${card.id}/start {"fresh":true}`]);
    expect(actions.prompt).toBeNull();
  });

  it('starts a card without a branch at once (never started, or its branch deleted)', async () => {
    const { actions, card } = setup({ status: 'todo', branch_name: null, job_id: 'j1' });
    const calls = serve(card);
    expect(await actions.start(card.id)).toBe(true);
    expect(actions.prompt).toBeNull();
    expect(sent(calls)).toEqual([`POST /api/cards/${card.id}/start null`]);
  });

  it('starts the workflow picked in the start action, with or without the plan review', async () => {
    const { actions, card } = setup({ status: 'todo', branch_name: null, job_id: null });
    const calls = serve(card);
    expect(await actions.start(card.id, { workflow: 'plan_build', review_plan: true })).toBe(true);
    expect(await actions.start(card.id, { workflow: 'test', review_plan: false })).toBe(true);
    expect(sent(calls)).toEqual([
      `POST /api/cards/${card.id}/start {"workflow":"plan_build","review_plan":true}`,
      `POST /api/cards/${card.id}/start {"workflow":"test"}`,
    ]);
  });

  it('keeps the picked workflow while it asks how to start a card that kept its branch', async () => {
    const { actions, card } = setup({ status: 'todo', branch_name: 'lazyaf/x-fix', job_id: 'j1' });
    const calls = serve(card);
    expect(await actions.start(card.id, { workflow: 'plan', review_plan: true })).toBe(false);
    expect(sent(calls)).toEqual([]);
    expect(await actions.confirmStart(false)).toBe(true);
    expect(sent(calls)).toEqual([`POST /api/cards/${card.id}/start {"workflow":"plan","review_plan":true}`]);
  });

  it('asks before a reject, by button or by drop, and can delete the branch', async () => {
    const { board, actions, card } = setup({ status: 'in_review', branch_name: 'lazyaf/x-fix', job_id: 'j1' });
    const calls = serve(card);
    await actions.drop(card.id, 'todo', 0);
    expect(actions.prompt).toEqual({ kind: 'reject', cardId: card.id });
    expect(sent(calls)).toEqual([]);
    actions.dismiss();
    actions.reject(card.id);
    expect(await actions.confirmReject(true)).toBe(true);
    expect(sent(calls)).toEqual([`POST /api/cards/${card.id}/reject {"delete_branch":true}`]);
    expect(board.card(card.id)?.branch_name).toBeNull();
  });

  it('retries while attempts are left', async () => {
    const { actions, card } = setup({ status: 'failed', max_attempts: 3, job_id: 'j2' });
    const calls = serve(card, [job('failed', 1), job('cancelled', 2), job('failed', 3)]);
    expect(await actions.retry(card.id)).toBe(true);
    expect(sent(calls)).toEqual([`POST /api/cards/${card.id}/retry null`]);
  });

  it('once attempts are spent, offers to raise the limit instead of failing, then retries', async () => {
    const { board, actions, card } = setup({ status: 'failed', max_attempts: 2, job_id: 'j2' });
    const calls = serve(card, [job('failed', 1), job('cancelled', 2), job('failed', 3)]);
    expect(await actions.drop(card.id, 'in_progress', 0)).toBe(false);
    expect(actions.prompt).toEqual({ kind: 'limit', cardId: card.id, used: 2 });
    expect(sent(calls)).toEqual([]);
    expect(toasts.items).toEqual([]); // no error: the question says it
    expect(await actions.raiseAndRetry(4)).toBe(true);
    expect(sent(calls)).toEqual([
      `PATCH /api/cards/${card.id} {"max_attempts":4}`,
      `POST /api/cards/${card.id}/retry null`,
    ]);
    expect(board.card(card.id)?.status).toBe('in_progress');
    expect(actions.prompt).toBeNull();
  });

  it('lets every other drop through as a plain move', async () => {
    const { board, actions, card } = setup({ status: 'todo', branch_name: null, job_id: null });
    const calls = serve(card);
    await actions.drop(card.id, 'in_progress', 1);
    expect(sent(calls)).toEqual([`PATCH /api/cards/${card.id} {"status":"in_progress","position":1}`]);
    expect(board.card(card.id)?.status).toBe('in_progress');
  });
});
