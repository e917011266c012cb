// The selected repo's predicted collisions between cards (conflicts and overlaps, with each other or
// with the target branch): loaded with the board, then each `card_conflicts` event replaces one
// card's whole list. A card leaves the map when its list empties.
import { api, type ConflictRead } from '../api';
import type { BoardEvent } from '../live/events';
import { handleError } from './toasts.svelte';

const NONE: ConflictRead[] = [];

export class ConflictState {
  repoId = $state<string | null>(null);
  /** Each card's predictions, by card id (cards without any are absent). */
  byCard = $state.raw<Record<string, ConflictRead[]>>({});

  /** Load repo `repoId`'s predictions (again after a reconnect: events may have been missed). */
  load = async (repoId: string | null): Promise<void> => {
    if (repoId !== this.repoId) this.byCard = {};
    this.repoId = repoId;
    if (!repoId) return;
    try {
      const { cards } = await api.conflicts.ofRepo(repoId);
      if (this.repoId === repoId) this.byCard = cards;
    } catch (error) {
      handleError(error, 'Could not load the predicted conflicts');
    }
  };

  apply = (event: BoardEvent): void => {
    if (event.type !== 'card_conflicts' || event.data.repo_id !== this.repoId) return;
    const { card_id: id, conflicts } = event.data;
    const next = { ...this.byCard };
    if (conflicts.length) next[id] = conflicts;
    else delete next[id];
    this.byCard = next;
  };

  /** Card `id`'s predictions, conflicts first (an empty list when it has none). */
  of = (id: string): ConflictRead[] => this.byCard[id] ?? NONE;
}

/** How a tile or the card modal names the other side of a prediction. */
export function otherName(conflict: ConflictRead, titleOf: (id: string) => string | undefined): string {
  if (conflict.target) return conflict.with;
  return titleOf(conflict.with) ?? conflict.with_title ?? `#${conflict.with.slice(0, 8)}`;
}

/** The sentence for one prediction: "conflicts with Fix login in README.md, app.py". */
export function describe(conflict: ConflictRead, name: string): string {
  const verb = conflict.kind === 'conflict' ? 'Conflicts with' : 'Overlaps';
  const shown = conflict.files.slice(0, 5).join(', ');
  const more = conflict.files.length > 5 ? ` and ${conflict.files.length - 5} more` : '';
  return `${verb} ${name} in ${shown}${more}`;
}
