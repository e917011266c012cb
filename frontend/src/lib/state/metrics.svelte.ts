// The Metrics page's state: the filter (repo, period) kept in the URL, the last answer of
// GET /api/metrics, and a refetch shortly after board events that change the figures.
import { api, type MetricsRead } from '../api';
import type { BoardEvent } from '../live/events';
import { describeError } from './toasts.svelte';

export const PERIODS = [7, 30, 90, 365] as const;
export const DEFAULT_DAYS = 30;
/** Events that change what the metrics count: attempts ending, cards moving or going. */
const CHANGES = new Set<BoardEvent['type']>(['job_status', 'card_updated', 'card_deleted', 'repo_deleted']);

export type MetricsFilter = { repo: string | null; days: number };

/** The filter in a URL's query (`?view=metrics&repo=…&days=…`); a bad `days` is the default. */
export function readFilter(search: string): MetricsFilter {
  const params = new URLSearchParams(search);
  const days = Number(params.get('days'));
  return {
    repo: params.get('repo') || null,
    days: Number.isInteger(days) && days >= 1 && days <= 365 ? days : DEFAULT_DAYS,
  };
}

/** `url` with the filter in its query (the defaults left out). */
export function writeFilter(url: URL, filter: MetricsFilter): URL {
  const next = new URL(url);
  if (filter.repo) next.searchParams.set('repo', filter.repo);
  else next.searchParams.delete('repo');
  if (filter.days !== DEFAULT_DAYS) next.searchParams.set('days', String(filter.days));
  else next.searchParams.delete('days');
  return next;
}

export class MetricsState {
  data = $state.raw<MetricsRead | null>(null);
  /** A request is on its way (the last figures stay on screen meanwhile). */
  loading = $state(false);
  /** Why the last load failed (the server's sentence), until one succeeds. */
  error = $state<string | null>(null);
  repo = $state<string | null>(null);
  days = $state(DEFAULT_DAYS);
  /** When the figures on screen were computed (the server's clock). */
  updated = $derived(this.data ? new Date(this.data.until) : null);
  readonly timezone: string;
  #wait: number;
  /** How long the last load took (ms): a costly period is refetched less often. */
  #took = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #request: AbortController | null = null;
  #again = false;

  /**
   * `wait`: ms between the first event of a burst and the refetch (events meanwhile ride along;
   * a steady stream still refetches once per `wait`, never starves). At least 4× what the last
   * load took: a year of a busy server's figures is not recomputed back to back while work goes on.
   */
  constructor(filter: MetricsFilter, { timezone = localZone(), wait = 1000 } = {}) {
    this.repo = filter.repo;
    this.days = filter.days;
    this.timezone = timezone;
    this.#wait = wait;
  }

  load = async (): Promise<void> => {
    this.#request?.abort();
    const request = new AbortController();
    this.#request = request;
    this.loading = true;
    const began = Date.now();
    try {
      const data = await api.metrics({ repo: this.repo, days: this.days, tz: this.timezone }, request.signal);
      if (this.#request !== request) return;
      this.#took = Date.now() - began;
      this.data = data;
      this.error = null;
    } catch (error) {
      if (this.#request !== request || (error as Error).name === 'AbortError') return;
      this.error = describeError(error);
    } finally {
      if (this.#request === request) {
        this.#request = null;
        this.loading = false;
        if (this.#again) {
          this.#again = false;
          this.refresh();
        }
      }
    }
  };

  /** Show another repo (null: every repo) or period; the URL keeps it over a reload. */
  select = (filter: Partial<MetricsFilter>): void => {
    if (filter.repo !== undefined) this.repo = filter.repo;
    if (filter.days !== undefined) this.days = filter.days;
    if (typeof history !== 'undefined') {
      history.replaceState(history.state, '', writeFilter(new URL(location.href), { repo: this.repo, days: this.days }));
    }
    void this.load();
  };

  /** A board event: refetch soon if it changes the figures. */
  apply = (event: BoardEvent): void => {
    if (CHANGES.has(event.type)) this.refresh();
  };

  /** Refetch after the wait, once, however many changes come meanwhile. */
  refresh = (): void => {
    if (this.#timer !== null) return;
    if (this.#request !== null) {
      this.#again = true; // after the request on its way, which may have missed this change
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.load();
    }, Math.max(this.#wait, 4 * this.#took));
  };

  dispose = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#request?.abort();
    this.#request = null;
  };
}

function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
