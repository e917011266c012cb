// A repo's learnings (the repo settings' Learnings tab): loaded when shown, kept current by
// `learning_updated`/`learning_deleted` events; and the actions on them from the board and the
// card modal. Nothing an agent proposes reaches a prompt until someone accepts it here.
import {
  api,
  type CardLearningRead,
  type LearningCreate,
  type LearningRead,
  type LearningUpdate,
  type LearningVerdict,
} from '../api';
import type { BoardEvent } from '../live/events';
import { handleError, toasts } from './toasts.svelte';

/** Most useful first, as the server orders them: helpful minus harmful, then uses, then newest. */
export function byUsefulness(a: LearningRead, b: LearningRead): number {
  return (
    b.helpful - b.harmful - (a.helpful - a.harmful) || b.uses - a.uses || b.created_at.localeCompare(a.created_at)
  );
}

/** Globs typed in one field ("src/**, tests/**" or one per line) as the API's list. */
export function parseGlobs(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((g) => g.trim()).filter(Boolean))];
}

export class LearningsState {
  repoId = $state<string | null>(null);
  /** The repo's learnings (every status), or null before they are loaded. */
  items = $state.raw<LearningRead[] | null>(null);
  loading = $state(false);
  /** Grows with every learning event: views of a card's learnings reload on it. */
  version = $state(0);

  proposed = $derived((this.items ?? []).filter((l) => l.status === 'proposed'));

  load = async (repoId: string): Promise<void> => {
    if (repoId !== this.repoId) this.items = null;
    this.repoId = repoId;
    this.loading = true;
    try {
      const found = await api.learnings.list(repoId);
      if (this.repoId === repoId) this.items = found;
    } catch (error) {
      handleError(error, 'Could not load the learnings');
    } finally {
      this.loading = false;
    }
  };

  apply = (event: BoardEvent): void => {
    if (event.type === 'learning_updated') {
      this.version += 1;
      const learning = event.data.learning;
      if (learning.repo_id === this.repoId && this.items) this.#put(learning);
    } else if (event.type === 'learning_deleted') {
      this.version += 1;
      if (event.data.repo_id === this.repoId && this.items) {
        this.items = this.items.filter((l) => l.id !== event.data.learning_id);
      }
    }
  };

  #put(learning: LearningRead): void {
    const rest = (this.items ?? []).filter((l) => l.id !== learning.id);
    this.items = [...rest, learning].sort(byUsefulness);
  }

  /** Run one call; a failure is a toast saying why, and null. */
  async #run<T>(what: string, call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (error) {
      handleError(error, what);
      return null;
    }
  }

  create = async (repoId: string, body: LearningCreate): Promise<boolean> => {
    const made = await this.#run('Could not add the learning', () => api.learnings.create(repoId, body));
    if (made && made.repo_id === this.repoId) this.#put(made);
    return made !== null;
  };

  update = async (id: string, change: LearningUpdate): Promise<LearningRead | null> => {
    const what = change.status === 'accepted' ? 'accept' : change.status === 'retired' ? 'retire' : 'save';
    const saved = await this.#run(`Could not ${what} the learning`, () => api.learnings.update(id, change));
    if (saved && saved.repo_id === this.repoId) this.#put(saved);
    return saved;
  };

  remove = async (id: string): Promise<boolean> => {
    const done = await this.#run('Could not delete the learning', () => api.learnings.remove(id).then(() => true));
    if (done && this.items) this.items = this.items.filter((l) => l.id !== id);
    return done === true;
  };

  mark = async (cardId: string, id: string, verdict: LearningVerdict | null): Promise<CardLearningRead | null> =>
    this.#run('Could not mark the learning', () => api.learnings.mark(cardId, id, verdict));

  /** Keep a review comment as an accepted learning of the card's repo. */
  keepComment = async (cardId: string, commentId: string, text: string, paths: string[]): Promise<boolean> => {
    const made = await this.#run('Could not keep the comment as a learning', () =>
      api.learnings.fromComment(cardId, commentId, { text, paths, kind: 'advice' }),
    );
    if (made) toasts.show('Kept as a learning: agents working on those files will be told.');
    return made !== null;
  };
}
