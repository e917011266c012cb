// The Steps tab's data: one card's runs (newest first), loaded once and kept current by
// run_updated events; which run and which step the user is looking at.
import { api, type RunRead } from '../../api';
import type { BoardEvent } from '../../live/events';
import { handleError } from '../../state/toasts.svelte';

export class CardRuns {
  readonly cardId: string;
  runs = $state.raw<RunRead[]>([]);
  loading = $state(true);
  error = $state<string | null>(null);
  /** The run picked; null follows the newest. */
  pickedRun = $state<string | null>(null);
  /** The step whose log is shown, by id; null: the running step, else the last that ran. */
  pickedStep = $state<string | null>(null);
  run = $derived(this.runs.find((r) => r.id === this.pickedRun) ?? this.runs[0] ?? null);
  step = $derived.by(() => {
    const steps = this.run?.steps ?? [];
    const picked = steps.find((s) => s.id === this.pickedStep);
    if (picked) return picked;
    return steps.find((s) => s.status === 'running') ?? [...steps].reverse().find((s) => s.job_id !== null) ?? null;
  });
  // Events that came while the first read was in flight are applied after it.
  #early: RunRead[] | null = [];

  constructor(cardId: string) {
    this.cardId = cardId;
  }

  load = async (): Promise<void> => {
    try {
      const loaded = await api.cards.runs(this.cardId);
      let runs = loaded;
      for (const run of this.#early ?? []) runs = upsertRun(runs, run);
      this.runs = runs;
      this.error = null;
    } catch (error) {
      this.error = handleError(error, 'Could not load the card’s runs');
    } finally {
      this.#early = null;
      this.loading = false;
    }
  };

  receive = (event: BoardEvent): void => {
    if (event.type !== 'run_updated' || event.data.run.card_id !== this.cardId) return;
    if (this.#early) this.#early.push(event.data.run);
    else this.runs = upsertRun(this.runs, event.data.run);
  };

  pickRun = (id: string): void => {
    this.pickedRun = id === this.runs[0]?.id ? null : id;
    this.pickedStep = null;
  };
}

/** `runs` (newest first) with `run` in its place, replaced or added. */
export function upsertRun(runs: readonly RunRead[], run: RunRead): RunRead[] {
  const rest = runs.filter((r) => r.id !== run.id);
  return [...rest, run].sort((a, b) => b.started_at.localeCompare(a.started_at));
}
