// The runner pool: who is connected, what each is doing, scaling per kind, and why queued jobs
// wait (the server's reasons, kept current by queue_updated events: backend jobs/waiting.py).
import { api, type PoolRead, type RunnerRead, type WaitingReason } from '../api';
import { ApiError } from '../api/client';
import type { BoardEvent } from '../live/events';
import { handleError } from './toasts.svelte';

export type Kind = 'local' | 'docker';

export class RunnerState {
  runners = $state.raw<RunnerRead[]>([]);
  pool = $state.raw<PoolRead | null>(null);
  scaling = $state<Kind | null>(null);
  /** Why each queued job waits, by job id (the first 200 in dispatch order). */
  waiting = $state.raw<Record<string, WaitingReason>>({});

  online = $derived(this.runners.filter((r) => r.status !== 'offline'));
  counts = $derived({
    idle: this.runners.filter((r) => r.status === 'idle').length,
    busy: this.runners.filter((r) => r.status === 'busy').length,
    offline: this.runners.filter((r) => r.status === 'offline').length,
  });

  /** Pool members of `kind` that the server manages (the number +/- changes). */
  managed = (kind: Kind): number => (this.pool ? this.pool[kind] : 0);

  load = async (): Promise<void> => {
    try {
      this.#set(await api.runners.list());
    } catch (error) {
      handleError(error, 'Could not load runners');
    }
  };

  #set(pool: PoolRead): void {
    this.pool = pool;
    this.runners = pool.runners;
    this.waiting = pool.waiting ?? {};
  }

  /** Why the job `jobId` waits, while it is queued and among the first the server reports. */
  reasonFor = (jobId: string | null | undefined): WaitingReason | null => (jobId ? (this.waiting[jobId] ?? null) : null);

  apply = (event: BoardEvent): void => {
    if (event.type === 'queue_updated') {
      this.waiting = event.data.waiting;
      return;
    }
    if (event.type === 'runner_deleted') {
      this.runners = this.runners.filter((r) => r.id !== event.data.runner_id);
      return;
    }
    if (event.type !== 'runner_status') return;
    const runner = event.data.runner;
    const index = this.runners.findIndex((r) => r.id === runner.id);
    if (index === -1) this.runners = [...this.runners, runner];
    else {
      const next = this.runners.slice();
      next[index] = runner;
      this.runners = next;
    }
  };

  /** Start every pool runner of `kind` that the pool gave up on (scaling to the same count retries them). */
  retry = (kind: Kind): Promise<void> => this.scale(kind, this.managed(kind));

  /** Forget a stopped runner added by hand (the server refuses pool and live runners, saying why). */
  remove = async (runner: RunnerRead): Promise<boolean> => {
    try {
      await api.runners.remove(runner.id);
    } catch (error) {
      // Already gone.
      if (!(error instanceof ApiError && error.status === 404)) {
        handleError(error, `Could not remove runner ${runner.name}`);
        return false;
      }
    }
    this.runners = this.runners.filter((r) => r.id !== runner.id);
    return true;
  };

  scale = async (kind: Kind, count: number): Promise<void> => {
    this.scaling = kind;
    try {
      this.#set(await api.runners.scale(kind, Math.max(0, count)));
    } catch (error) {
      handleError(error, `Could not scale ${kind} runners`);
    } finally {
      this.scaling = null;
    }
  };
}
