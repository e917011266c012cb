import { describe, expect, it } from 'vitest';
import type { CardRead } from '../api';
import { makeCard } from '../testing/cards';
import { transitions } from '../testing/transitions';
import { dropAction, groupByStatus, matches, moveLocally, upsert } from './cards';

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

// The server's answer to GET /api/meta/transitions (scripts/gen-api.sh writes this copy; a backend
// test checks it): the board's drag rules and their wording come from the server.
const table = transitions.cards;

describe('dropAction', () => {
  it('maps the drags the server allows to their actions', () => {
    expect(dropAction(table, 'todo', 'in_progress')).toEqual({ action: 'start' });
    expect(dropAction(table, 'in_review', 'done')).toEqual({ action: 'approve' });
    expect(dropAction(table, 'in_review', 'todo')).toEqual({ action: 'reject' });
    expect(dropAction(table, 'failed', 'in_progress')).toEqual({ action: 'retry' });
    expect(dropAction(table, 'failed', 'todo')).toEqual({ action: 'requeue' });
    expect(dropAction(table, 'todo', 'todo')).toEqual({ action: 'reorder' });
  });

  it("refuses the others in the server's words", () => {
    expect(dropAction(table, 'todo', 'done')).toEqual({
      refusal: "Only a card in review can become done; it needs an agent's work to review first.",
    });
    expect(dropAction(table, 'in_progress', 'todo')).toEqual({
      refusal: "The card's agent is still working on it; wait for it to finish or cancel its job first.",
    });
    expect(dropAction(table, 'in_review', 'in_progress')).toEqual({
      refusal: 'Ask for changes to send a reviewed card back to its agent (they need a comment).',
    });
  });

  it('sends a drop as it is while the rules are not loaded (the server answers for itself)', () => {
    expect(dropAction(null, 'todo', 'done')).toEqual({ action: 'patch' });
    expect(dropAction(null, 'done', 'done')).toEqual({ action: 'reorder' });
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
