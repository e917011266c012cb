import { describe, expect, it, vi } from 'vitest';
import type { CardRead } from '../api';
import { makeCard } from '../testing/cards';
import { BoardState } from './board.svelte';
import { KeyboardDrag } from './keyboard.svelte';

function setup(extra: CardRead[] = []) {
  const board = new BoardState();
  const a = makeCard({ title: 'Fix login', status: 'todo', position: 0 });
  const b = makeCard({ title: 'Write docs', status: 'todo', position: 1 });
  const p = makeCard({ title: 'Busy', status: 'in_progress', position: 0 });
  board.cards = [a, b, p, ...extra];
  const drop = vi.fn(async () => true);
  const keyboard = new KeyboardDrag(board, drop);
  const titles = (status: CardRead['status']) => board.columns[status].map((c) => c.title);
  return { board, keyboard, drop, a, b, p, titles };
}

describe('KeyboardDrag', () => {
  it('moves a picked-up card across columns with the arrows, showing it there, and drops it there', async () => {
    const { board, keyboard, drop, a, titles } = setup();
    keyboard.pickUp(a.id);
    expect(keyboard.held).toBe(a.id);
    expect(keyboard.message).toMatch(/^Picked up “Fix login” in To Do, position 1 of 2\./);
    expect(keyboard.move('ArrowRight')).toBe(true);
    expect(titles('in_progress')).toEqual(['Fix login', 'Busy']);
    expect(titles('todo')).toEqual(['Write docs']);
    expect(keyboard.message).toBe('“Fix login” in In Progress, position 1 of 2.');
    expect(keyboard.move('ArrowDown')).toBe(true);
    expect(titles('in_progress')).toEqual(['Busy', 'Fix login']);
    // Nothing is sent until the drop; the card itself has not moved.
    expect(drop).not.toHaveBeenCalled();
    expect(board.card(a.id)?.status).toBe('todo');
    await keyboard.drop();
    expect(drop).toHaveBeenCalledWith(a.id, 'in_progress', 1);
    expect(keyboard.held).toBeNull();
    expect(keyboard.message).toBe('Dropped “Fix login” in In Progress, position 2 of 2.');
  });

  it('puts the card back on Escape, sending nothing', () => {
    const { keyboard, drop, a, titles } = setup();
    keyboard.pickUp(a.id);
    keyboard.move('ArrowRight');
    keyboard.move('ArrowRight');
    expect(titles('in_review')).toEqual(['Fix login']);
    keyboard.cancel();
    expect(titles('todo')).toEqual(['Fix login', 'Write docs']);
    expect(titles('in_review')).toEqual([]);
    expect(keyboard.message).toBe('“Fix login” put back in To Do.');
    expect(drop).not.toHaveBeenCalled();
  });

  it('says so at the edges instead of moving', () => {
    const { keyboard, a, b } = setup();
    keyboard.pickUp(a.id);
    expect(keyboard.move('ArrowLeft')).toBe(false);
    expect(keyboard.message).toBe('“Fix login” is already in the first column, To Do.');
    expect(keyboard.move('ArrowUp')).toBe(false);
    expect(keyboard.message).toBe('“Fix login” is already at the top of To Do.');
    keyboard.cancel();
    keyboard.pickUp(b.id);
    for (let i = 0; i < 4; i++) keyboard.move('ArrowRight');
    expect(keyboard.move('ArrowRight')).toBe(false);
    expect(keyboard.message).toBe('“Write docs” is already in the last column, Failed.');
  });

  it('keeps the row when moving sideways, up to the end of the shorter column', () => {
    const { keyboard, drop, b, titles } = setup();
    keyboard.pickUp(b.id); // second in To Do
    keyboard.move('ArrowRight');
    expect(titles('in_progress')).toEqual(['Busy', 'Write docs']);
    keyboard.move('ArrowRight'); // In Review is empty: first place
    expect(titles('in_review')).toEqual(['Write docs']);
    void keyboard.drop();
    expect(drop).toHaveBeenCalledWith(b.id, 'in_review', 0);
  });

  it('drops among all cards when a search hides some', async () => {
    const hidden = makeCard({ title: 'Other', status: 'in_progress', position: 1 });
    const shown = makeCard({ title: 'Fix logout', status: 'in_progress', position: 2 });
    const { board, keyboard, drop, a } = setup([hidden, shown]);
    board.query = 'fix';
    keyboard.pickUp(a.id);
    keyboard.move('ArrowRight');
    keyboard.move('ArrowDown'); // after “Fix logout”, shown second of the visible ones
    expect(board.columns.in_progress.map((c) => c.title)).toEqual(['Fix logout', 'Fix login']);
    await keyboard.drop();
    expect(drop).toHaveBeenCalledWith(a.id, 'in_progress', 3); // after position 2, among all
  });
});
