// One job's log, as the Logs tab shows it: the REST pages first, then live job_event frames.
// Rows live in a plain array (LogFolder) and heights in a Fenwick tree (HeightIndex); the only
// reactive bits are a version counter, bumped at most every 50 ms, and the loading state.
import { api } from '../api';
import type { AgentEvent, BoardEvent, JobEventData } from '../live/events';
import { handleError } from '../state/toasts.svelte';
import { LogFolder, type LogItem } from './fold';
import { HeightIndex } from './heights';

export const PAGE = 5000;
const LINE = 18;
const ROW = 24;

/** A first guess at a row's height (measured once it is on screen). */
export function estimateHeight(item: LogItem): number {
  if (item.type === 'text' || item.type === 'error' || item.type === 'other') {
    let lines = 1;
    for (const part of item.text.split('\n', 200)) lines += Math.floor(part.length / 110) + 1;
    return ROW + (Math.min(lines, 200) - 1) * LINE;
  }
  if (item.type === 'result') return ROW + LINE * 2;
  return ROW;
}

export class JobLog {
  readonly jobId: string;
  readonly folder = new LogFolder();
  readonly heights = new HeightIndex(4096);
  /** Bumped when rows were added or changed. */
  version = $state(0);
  loading = $state(true);
  error = $state<string | null>(null);
  #buffer: JobEventData[] | null = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(jobId: string) {
    this.jobId = jobId;
  }

  get items(): readonly LogItem[] {
    return this.folder.items;
  }

  /** Read every stored event page by page, then apply the live frames that came meanwhile. */
  load = async (): Promise<void> => {
    let after = 0;
    try {
      for (;;) {
        const page = await api.jobs.logs(this.jobId, after, PAGE);
        if (this.#closed) return;
        for (const e of page.events) this.#take(e.attempt, e.seq, e.data as AgentEvent);
        after = page.next_after;
        this.bump();
        if (page.events.length < PAGE) break;
      }
      this.error = null;
    } catch (error) {
      if (this.#closed) return;
      this.error = handleError(error, 'Could not load the log');
    } finally {
      const buffered = this.#buffer ?? [];
      this.#buffer = null;
      for (const e of buffered) this.#take(e.attempt, e.seq, e.event);
      this.loading = false;
      this.bump();
    }
  };

  /** A board event: keep this job's agent events (buffered until the REST pages are in). */
  receive = (event: BoardEvent): void => {
    if (event.type !== 'job_event' || event.data.job_id !== this.jobId) return;
    if (this.#buffer) this.#buffer.push(event.data);
    else if (this.#take(event.data.attempt, event.data.seq, event.data.event)) this.#schedule();
  };

  /** Expand or fold a tool call. */
  toggle = (id: number): void => {
    const item = this.folder.items[id];
    if (item?.type === 'tool') {
      item.open = !item.open;
      this.bump();
    }
  };

  bump = (): void => {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.version++;
  };

  close = (): void => {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  };

  #schedule(): void {
    this.#timer ??= setTimeout(this.bump, 50);
  }

  #take(attempt: number, seq: number, event: AgentEvent): boolean {
    const outcome = this.folder.add(attempt, seq, event);
    const items = this.folder.items;
    for (let i = this.heights.size; i < items.length; i++) this.heights.push(estimateHeight(items[i]));
    return outcome !== 'duplicate';
  }
}
