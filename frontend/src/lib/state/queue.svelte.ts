// The queue as the scheduler sees it (GET /api/queue: dispatch order, each one's reason for
// waiting, the stats), while the queue view is open. It reloads after the events that change it
// (a job queued, started or ended; the reasons or the limits changed), coalesced, never by timer.
import { api, type QueueRead } from '../api';
import type { BoardEvent } from '../live/events';
import { handleError } from './toasts.svelte';

const COALESCE_MS = 150;

export class QueueState {
  queue = $state.raw<QueueRead | null>(null);
  open = $state(false);
  /** Only the selected repo's attempts (the stats are always the whole queue's). */
  repoId = $state<string | null>(null);
  loading = $state(false);
  cancelling = $state<string | null>(null);

  #timer: ReturnType<typeof setTimeout> | null = null;

  show = (repoId: string | null = null): void => {
    this.repoId = repoId;
    this.open = true;
    void this.load();
  };

  hide = (): void => {
    this.open = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  };

  load = async (): Promise<void> => {
    this.loading = true;
    try {
      this.queue = await api.queue(this.repoId);
    } catch (error) {
      handleError(error, 'Could not load the queue');
    } finally {
      this.loading = false;
    }
  };

  apply = (event: BoardEvent): void => {
    if (!this.open) return;
    if (event.type !== 'queue_updated' && event.type !== 'job_status' && event.type !== 'limits_updated') return;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.open) void this.load();
    }, COALESCE_MS);
  };

  /** Cancel a queued or held attempt (the card goes back to To Do). */
  cancel = async (jobId: string, title: string): Promise<void> => {
    this.cancelling = jobId;
    try {
      await api.jobs.cancel(jobId);
      await this.load();
    } catch (error) {
      handleError(error, `Could not cancel ${title}`);
    } finally {
      this.cancelling = null;
    }
  };
}
