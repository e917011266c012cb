import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CardActions } from '../../state/actions.svelte';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { KeyboardDrag } from '../../state/keyboard.svelte';
import { makeCard } from '../../testing/cards';
import Board from './Board.svelte';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function show(status: 'live' | 'offline' = 'live') {
  const board = new BoardState();
  board.repoId = 'repo-1';
  board.loading = false;
  const login = makeCard({ title: 'Fix login', status: 'todo', position: 0 });
  const docs = makeCard({ title: 'Write docs', status: 'todo', position: 1 });
  board.cards = [login, docs];
  const actions = new CardActions(board);
  const keyboard = new KeyboardDrag(board, actions.drop);
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push(`${init.method ?? 'GET'} ${url} ${init.body ?? ''}`);
      const change = JSON.parse(String(init.body ?? '{}'));
      return new Response(JSON.stringify({ ...login, ...change, updated_at: '2026-01-02T00:00:00Z' }), { status: 200 });
    }),
  );
  const context = new Map([[APP_CONTEXT_KEY, { board, actions, keyboard, live: { status, unreachable: status === 'offline' }, runners: null }]]);
  render(Board, { context });
  return { board, login, calls };
}

const item = (column: string, title: string) =>
  within(screen.getByRole('region', { name: column })).getAllByRole('listitem').find((li) => li.textContent?.includes(title))!;

describe('Board keyboard', () => {
  it('drags a card from To Do to In Progress with Space and the arrow keys, keeping focus on it', async () => {
    const { board, login, calls } = show();
    const live = document.querySelector('[aria-live="assertive"]')!;
    item('To Do', 'Fix login').focus();
    await fireEvent.keyDown(document.activeElement!, { key: ' ' });
    expect(live.textContent).toContain('Picked up “Fix login” in To Do');
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowRight' });
    await tick();
    await tick();
    // Shown in In Progress, focused there, and announced by name; nothing sent yet.
    expect(document.activeElement).toBe(item('In Progress', 'Fix login'));
    expect(live.textContent).toBe('“Fix login” in In Progress, position 1 of 1.');
    expect(calls).toEqual([]);
    await fireEvent.keyDown(document.activeElement!, { key: ' ' });
    await vi.waitFor(() => expect(calls).toEqual([`PATCH /api/cards/${login.id} {"status":"in_progress","position":0}`]));
    expect(board.card(login.id)?.status).toBe('in_progress');
    expect(live.textContent).toBe('Dropped “Fix login” in In Progress, position 1 of 1.');
  });

  it('puts a held card back on Escape, and opens a card on Enter', async () => {
    const { board } = show();
    item('To Do', 'Fix login').focus();
    await fireEvent.keyDown(document.activeElement!, { key: ' ' });
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowRight' });
    await tick();
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    await tick();
    expect(within(screen.getByRole('region', { name: 'In Progress' })).queryAllByRole('listitem')).toEqual([]);
    expect(document.activeElement).toBe(item('To Do', 'Fix login'));
    expect(board.openCardId).toBeNull();
    await fireEvent.keyDown(document.activeElement!, { key: 'Enter' });
    expect(board.openCardId).toBe(board.cards[0].id);
  });

  it('does not pick a card up while the server is unreachable, and says why', async () => {
    const { board } = show('offline');
    item('To Do', 'Fix login').focus();
    await fireEvent.keyDown(document.activeElement!, { key: ' ' });
    expect(board.preview).toBeNull();
    expect(document.querySelector('[aria-live="assertive"]')!.textContent).toMatch(/server is unreachable/);
  });

  it('says so when a search matches no card', async () => {
    const { board } = show();
    board.query = 'nothing like this';
    await tick();
    expect(screen.getByText(/No card matches “nothing like this”/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Show every card' }));
    expect(board.query).toBe('');
    expect(screen.queryByText(/No card matches/)).toBeNull();
  });
});
