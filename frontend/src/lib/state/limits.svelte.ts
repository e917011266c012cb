// Budgets and limits, and today's spend against them (GET /api/limits; backend limits/policy.py),
// kept current by limits_updated events: the server sends the whole picture whenever a limit or
// today's usage changes, so nothing here polls or adds things up.
import { api, type LimitsRead, type LimitsUpdate, type RepoLimitsRead, type RepoLimitsUpdate } from '../api';
import type { BoardEvent } from '../live/events';
import { handleError } from './toasts.svelte';

/** A repo's cap on running attempts and where it stands (the In Progress column shows it). */
export type RunningCap = { running: number; cap: number; key: string };

export class LimitsState {
  current = $state.raw<LimitsRead | null>(null);

  /** Today's spend against the daily budget, 0..1 (null without a budget). */
  budgetUsed = $derived.by(() => {
    const c = this.current;
    if (!c || c.limits.daily_usd === null) return null;
    return c.limits.daily_usd === 0 ? 1 : c.usage.spent_usd / c.limits.daily_usd;
  });

  load = async (): Promise<void> => {
    try {
      this.current = await api.limits.get();
    } catch (error) {
      console.warn('Could not load the limits', error);
    }
  };

  apply = (event: BoardEvent): void => {
    if (event.type === 'limits_updated') this.current = event.data.limits;
  };

  /** The repo's entry (its own limits and usage today), if it has limits of its own or work today. */
  repo = (repoId: string | null | undefined): RepoLimitsRead | null =>
    (repoId && this.current?.repos.find((r) => r.repo_id === repoId)) || null;

  /** The repo's cap on running attempts (its own max_running, else max_running_per_repo), if any. */
  capFor = (repoId: string | null | undefined): RunningCap | null => {
    if (!repoId || !this.current) return null;
    const entry = this.repo(repoId);
    if (entry) {
      const cap = entry.effective.max_running;
      return cap === null ? null : { running: entry.usage.running, cap, key: entry.effective.max_running_key };
    }
    const cap = this.current.limits.max_running_per_repo;
    return cap === null ? null : { running: 0, cap, key: 'max_running_per_repo' };
  };

  /** Save global limits; the server's sentence is shown when it refuses. True when saved. */
  save = async (change: LimitsUpdate): Promise<boolean> => {
    try {
      this.current = await api.limits.put(change);
      return true;
    } catch (error) {
      handleError(error, 'Could not save the limits');
      return false;
    }
  };

  saveRepo = async (repoId: string, change: RepoLimitsUpdate): Promise<RepoLimitsRead | null> => {
    try {
      const saved = await api.limits.putRepo(repoId, change);
      await this.load(); // the repo's entry, and the global picture it is part of
      return saved;
    } catch (error) {
      handleError(error, 'Could not save the repo limits');
      return null;
    }
  };
}

/**
 * The changes between a form's fields and the values they started from, as an update: an empty
 * field is null (no limit), a number is itself; untouched fields are left out. Throws with a
 * sentence naming the field when one is not a number 0 or more. (A number input bound with
 * bind:value gives numbers, or null when empty; text gives strings.)
 */
export function limitChanges<K extends string>(
  fields: Record<K, string | number | null | undefined>,
  before: Record<K, number | null>,
  integers: readonly K[] = [],
): Partial<Record<K, number | null>> {
  const changes: Partial<Record<K, number | null>> = {};
  for (const key of Object.keys(fields) as K[]) {
    const raw = fields[key];
    const text = typeof raw === 'string' ? raw.trim() : raw;
    const value = text === '' || text === null || text === undefined ? null : Number(text);
    if (value !== null && (!Number.isFinite(value) || value < 0)) {
      throw new Error(`${key} must be a number, 0 or more (empty: no limit).`);
    }
    if (value !== null && integers.includes(key) && !Number.isInteger(value)) {
      throw new Error(`${key} must be a whole number (empty: no limit).`);
    }
    if (value !== before[key]) changes[key] = value;
  }
  return changes;
}
