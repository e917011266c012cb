// Words and numbers as the board shows them, one format each (tested in format.spec.ts).
import type { JobRead } from './api';

/** "1 file", "3 files", "1,204 events"; `many` for plurals that are not word + s. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Money in dollars, always to the cent: "$0.42", "$12.00"; a cost under a cent is "<$0.01". */
export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined) return '';
  if (usd > 0 && usd < 0.01) return '<$0.01';
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** How long something took: "4.2s" under a minute, then "3m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  const tenths = Math.max(0, Math.floor(ms / 100));
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const s = Math.floor(tenths / 10);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Attempts a retry of the card counts against its max_attempts, as the server counts them: the agent
 * passes of the step its last agent pass belongs to (each workflow step gets max_attempts), leaving
 * out cancelled ones, the runs' checks (verify) and a person's follow-up prompts.
 */
export function attemptsUsed(jobs: readonly JobRead[]): number {
  const counted = jobs.filter((j) => j.status !== 'cancelled' && j.kind !== 'verify' && j.kind !== 'followup');
  const last = [...counted].sort((a, b) => a.queued_at.localeCompare(b.queued_at)).at(-1);
  if (!last) return 0;
  return counted.filter((j) => (j.step_id ?? null) === (last.step_id ?? null)).length;
}

/**
 * Each job's label, by job id, for jobs in the order they were queued: "Attempt 2 · iterate"
 * counts the card's attempts (what max_attempts limits), "Cancelled · build" for a cancelled one.
 */
export function attemptLabels(jobs: readonly JobRead[]): Map<string, string> {
  const labels = new Map<string, string>();
  let attempt = 0;
  for (const job of [...jobs].sort((a, b) => a.queued_at.localeCompare(b.queued_at))) {
    if (job.status === 'cancelled') labels.set(job.id, `Cancelled · ${job.kind}`);
    else labels.set(job.id, `Attempt ${++attempt} · ${job.kind}`);
  }
  return labels;
}
