// A card's runs and their steps as the board shows them: the strip on a tile, the Steps tab.
// Pure functions over the API's shapes (GET /api/cards/{id}/runs, run_updated events).
import type { RunRead, StepRead, StepStatus } from '../api';
import { formatDuration, plural } from '../format';

export type Tone = 'neutral' | 'accent' | 'ok' | 'warn' | 'danger' | 'info';

/** How a step's status looks: badge tone and the word for it. */
export const STEP_STATUS: Record<StepStatus, { tone: Tone; label: string }> = {
  pending: { tone: 'neutral', label: 'pending' },
  running: { tone: 'info', label: 'running' },
  succeeded: { tone: 'ok', label: 'done' },
  failed: { tone: 'danger', label: 'failed' },
  cancelled: { tone: 'warn', label: 'cancelled' },
  skipped: { tone: 'neutral', label: 'skipped' },
};

/** A step's name: its kind, and a loop step's iteration ("loop 3"). */
export function stepName(step: Pick<StepRead, 'kind' | 'iteration'>): string {
  return step.iteration ? `${step.kind} ${step.iteration}` : step.kind;
}

/** How long a step ran: to its end, or to `now` while it runs; null before it began. */
export function stepElapsedMs(step: Pick<StepRead, 'started_at' | 'finished_at'>, now: number): number | null {
  if (!step.started_at) return null;
  const end = step.finished_at ? Date.parse(step.finished_at) : now;
  return Math.max(0, end - Date.parse(step.started_at));
}

/** "plan → build → verify": a workflow's steps as the picker and the tile's title say them. */
export function stepChain(kinds: readonly string[]): string {
  return kinds.join(' → ');
}

/** The one-line summary of a step the tile strip's tooltip and the Steps tab's rows show. */
export function stepSummary(step: StepRead, now: number): string {
  const parts = [`${stepName(step)}: ${STEP_STATUS[step.status].label}`];
  const elapsed = stepElapsedMs(step, now);
  if (elapsed !== null) parts.push(formatDuration(elapsed));
  if (step.attempts > 1) parts.push(plural(step.attempts, 'attempt'));
  if (step.commits) parts.push(plural(step.commits, 'commit'));
  if (step.files_changed) parts.push(`${plural(step.files_changed, 'file')} +${step.lines_added ?? 0} −${step.lines_removed ?? 0}`);
  return parts.join(' · ');
}

/** The run's words for the tile: "plan_build · step 2 of 3", "waiting for the plan's review". */
export function runProgress(run: RunRead): string {
  if (run.phase === 'plan_review') return 'waiting for the plan’s review';
  const at = run.steps.findIndex((s) => s.status === 'running');
  if (run.status === 'running' && at >= 0) return `${run.workflow} · step ${at + 1} of ${run.steps.length}`;
  return `${run.workflow} · ${run.status}`;
}

/** The run to hold for a card: `next` replaces `held` unless it is an older run. */
export function newerRun(held: RunRead | undefined, next: RunRead): boolean {
  if (!held || held.id === next.id) return true;
  return next.started_at >= held.started_at;
}
