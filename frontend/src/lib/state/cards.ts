// Pure functions over card lists (tested in cards.spec.ts): grouping, ordering, local moves.
import type { CardRead, CardStatus, JobRead, TransitionTableRead } from '../api';

export const COLUMNS: { status: CardStatus; title: string }[] = [
  { status: 'todo', title: 'To Do' },
  { status: 'in_progress', title: 'In Progress' },
  { status: 'in_review', title: 'In Review' },
  { status: 'done', title: 'Done' },
  { status: 'failed', title: 'Failed' },
];

export const STATUS_LABEL: Record<CardStatus, string> = Object.fromEntries(
  COLUMNS.map((c) => [c.status, c.title]),
) as Record<CardStatus, string>;

export type Columns = Record<CardStatus, CardRead[]>;

export function byPosition(a: CardRead, b: CardRead): number {
  return a.position - b.position || a.created_at.localeCompare(b.created_at);
}

export function emptyColumns(): Columns {
  return { todo: [], in_progress: [], in_review: [], done: [], failed: [] };
}

export function groupByStatus(cards: readonly CardRead[]): Columns {
  const columns = emptyColumns();
  for (const card of cards) columns[card.status]?.push(card);
  for (const list of Object.values(columns)) list.sort(byPosition);
  return columns;
}

/** Cards whose title, description, branch or short id contain every word of `query`. */
export function matches(card: CardRead, query: string, priority: number | null = null): boolean {
  if (priority !== null && card.priority !== priority) return false;
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = `${card.title}\n${card.description}\n${card.branch_name ?? ''}\n${card.id.slice(0, 8)}`.toLowerCase();
  return words.every((w) => haystack.includes(w));
}

/** Insert or replace `card`, unless the copy we hold is newer (events can cross a REST reload). */
export function upsert(cards: readonly CardRead[], card: CardRead): CardRead[] {
  const index = cards.findIndex((c) => c.id === card.id);
  if (index === -1) return [...cards, card];
  if (cards[index].updated_at > card.updated_at) return cards as CardRead[];
  const next = cards.slice();
  next[index] = card;
  return next;
}

/** The board after moving card `id` to column `to` at `position` (0 = top), positions renumbered. */
export function moveLocally(cards: readonly CardRead[], id: string, to: CardStatus, position: number): CardRead[] {
  const moving = cards.find((c) => c.id === id);
  if (!moving) return cards as CardRead[];
  const from = moving.status;
  const target = cards.filter((c) => c.status === to && c.id !== id).sort(byPosition);
  const at = Math.max(0, Math.min(position, target.length));
  target.splice(at, 0, { ...moving, status: to });
  const renumbered = new Map<string, CardRead>();
  target.forEach((c, i) => renumbered.set(c.id, c.position === i && c.id !== id ? c : { ...c, position: i }));
  if (from !== to) {
    cards
      .filter((c) => c.status === from && c.id !== id)
      .sort(byPosition)
      .forEach((c, i) => c.position !== i && renumbered.set(c.id, { ...c, position: i }));
  }
  return cards.map((c) => renumbered.get(c.id) ?? c);
}

/**
 * What dropping a card from column `from` into column `to` does: an action (`reorder`, or the
 * server's action name: start, approve, reject, retry, requeue), or the server's sentence for why
 * it cannot. The rules and their wording are the server's (GET /api/meta/transitions); until they
 * are loaded (`table` null) a drop is sent as it is and the server answers for itself.
 */
export type Drop = { action: string } | { refusal: string };

export function dropAction(table: TransitionTableRead | null, from: CardStatus, to: CardStatus): Drop {
  if (from === to) return { action: 'reorder' };
  if (!table) return { action: 'patch' };
  const move = table.moves.find((m) => m.drag && m.source === from && m.target === to);
  if (move) return { action: move.action };
  const refused = table.refusals.find((r) => r.source === from && r.target === to);
  return { refusal: refused?.reason ?? `A card cannot move from ${STATUS_LABEL[from]} to ${STATUS_LABEL[to]}.` };
}

export function jobElapsedMs(job: JobRead, now: number): number | null {
  const start = job.started_at ?? job.queued_at;
  if (!start) return null;
  const end = job.completed_at ? Date.parse(job.completed_at) : now;
  return end - Date.parse(start);
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/**
 * Where a card dropped at `index` among a column's shown cards goes among all of them, when a
 * filter hides some: just after its shown neighbour above (`others`: the shown cards of column
 * `to` without the dropped one, in order).
 */
export function dropPosition(others: readonly CardRead[], index: number, card: CardRead, to: CardStatus): number {
  const previous = others[index - 1];
  if (!previous) return 0;
  return card.status === to && card.position < previous.position ? previous.position : previous.position + 1;
}
