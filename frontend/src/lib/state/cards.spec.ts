import { describe, expect, it } from 'vitest';
import type { CardRead } from '../api';
import { makeCard } from '../testing/cards';
import { groupByStatus, isMoveAllowed, matches, moveAction, moveLocally, upsert } from './cards';

function card(status: CardRead['status'], position: number, extra: Partial<CardRead> = {}): CardRead {
  return makeCard({ status, position, ...extra });
}

const order = (cards: CardRead[]) => cards.map((c) => `${c.title}@${c.position}`);

describe('groupByStatus', () => {
  it('puts every card in its column, ordered by position', () => {
    const a = card('todo', 1);
    const b = card('todo', 0);
    const c = card('done', 0);
    const columns = groupByStatus([a, b, c]);
    expect(columns.todo.map((x) => x.id)).toEqual([b.id, a.id]);
    expect(columns.done).toEqual([c]);
    expect(columns.in_progress).toEqual([]);
  });
});

describe('moveLocally', () => {
  it('moves a card to another column at a position and renumbers both columns', () => {
    const t0 = card('todo', 0, { title: 't0' });
    const t1 = card('todo', 1, { title: 't1' });
    const t2 = card('todo', 2, { title: 't2' });
    const p0 = card('in_progress', 0, { title: 'p0' });
    const moved = moveLocally([t0, t1, t2, p0], t1.id, 'in_progress', 0);
    const columns = groupByStatus(moved);
    expect(order(columns.todo)).toEqual(['t0@0', 't2@1']);
    expect(order(columns.in_progress)).toEqual(['t1@0', 'p0@1']);
  });

  it('reorders inside a column, clamping the position', () => {
    const a = card('todo', 0, { title: 'a' });
    const b = card('todo', 1, { title: 'b' });
    const c = card('todo', 2, { title: 'c' });
    expect(order(groupByStatus(moveLocally([a, b, c], a.id, 'todo', 99)).todo)).toEqual(['b@0', 'c@1', 'a@2']);
    expect(order(groupByStatus(moveLocally([a, b, c], c.id, 'todo', 0)).todo)).toEqual(['c@0', 'a@1', 'b@2']);
  });

  it('leaves the list alone for an unknown card', () => {
    const a = card('todo', 0);
    const cards = [a];
    expect(moveLocally(cards, 'nope', 'done', 0)).toBe(cards);
  });
});

describe('moveAction', () => {
  it('maps the drags the board allows to their actions', () => {
    expect(moveAction('todo', 'in_progress')).toBe('start');
    expect(moveAction('in_review', 'done')).toBe('approve');
    expect(moveAction('in_review', 'todo')).toBe('reject');
    expect(moveAction('failed', 'in_progress')).toBe('retry');
    expect(moveAction('todo', 'todo')).toBe('reorder');
  });

  it('explains the drags it refuses', () => {
    expect(moveAction('todo', 'done')).toMatch(/cannot move from To Do to Done/);
    expect(moveAction('todo', 'in_review')).toMatch(/agent finishes/);
    expect(moveAction('in_progress', 'todo')).toMatch(/cancel its job/);
    expect(isMoveAllowed('done', 'todo')).toBe(false);
    expect(isMoveAllowed('failed', 'todo')).toBe(true);
  });
});

describe('matches', () => {
  it('finds every word in title, description, branch or id, and filters by priority', () => {
    const c = card('todo', 0, { title: 'Fix login', description: 'OAuth redirect', branch_name: 'lazyaf/ab12-fix' });
    expect(matches(c, 'login oauth')).toBe(true);
    expect(matches(c, 'ab12')).toBe(true);
    expect(matches(c, 'logout')).toBe(false);
    expect(matches(c, '', 1)).toBe(true);
    expect(matches(c, '', 3)).toBe(false);
  });
});

describe('upsert', () => {
  it('adds new cards and replaces held ones unless the held copy is newer', () => {
    const c = card('todo', 0, { updated_at: '2026-01-01T00:00:05Z' });
    const older = { ...c, title: 'old', updated_at: '2026-01-01T00:00:01Z' };
    const newer = { ...c, title: 'new', updated_at: '2026-01-01T00:00:09Z' };
    expect(upsert([], c)).toEqual([c]);
    expect(upsert([c], older)[0].title).toBe(c.title);
    expect(upsert([c], newer)[0].title).toBe('new');
  });
});
