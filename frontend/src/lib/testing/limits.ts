// Limits and queue payloads in the API's shape, for tests.
import type { LimitsRead, LimitValues, QueueEntry, QueueRead, RepoLimitsRead, WaitingReason } from '../api';

export const NO_LIMITS: LimitValues = {
  max_running: null,
  max_running_per_repo: null,
  daily_usd: null,
  daily_agent_runs: null,
  per_card_usd: null,
  cooldown_s: null,
  failure_cooldown_after: null,
};

export function makeLimits(fields: Partial<LimitsRead> = {}, limits: Partial<LimitValues> = {}): LimitsRead {
  return {
    limits: { ...NO_LIMITS, ...limits },
    usage: { spent_usd: 0, agent_runs: 0, input_tokens: 0, output_tokens: 0, running: 0 },
    day_started_at: '2026-01-01T00:00:00Z',
    resets_at: '2026-01-02T00:00:00Z',
    repos: [],
    ...fields,
  };
}

export function makeRepoLimits(repoId: string, fields: Partial<RepoLimitsRead> = {}): RepoLimitsRead {
  const own = { max_running: null, daily_usd: null, daily_agent_runs: null, per_card_usd: null, cooldown_s: null, failure_cooldown_after: null };
  return {
    repo_id: repoId,
    repo_name: 'demo',
    limits: own,
    effective: { ...own, max_running_key: 'max_running_per_repo' },
    usage: { spent_usd: 0, agent_runs: 0, input_tokens: 0, output_tokens: 0, running: 0, failure_streak: 0, paused_until: null },
    ...fields,
  };
}

export const reasonOf = (code: WaitingReason['code'], message: string, fields: Partial<WaitingReason> = {}): WaitingReason => ({
  code, message, ahead: 0, busy: 0, runners: 0, starting: [], failed: [], hold: null, ...fields,
});

export function makeEntry(position: number, title: string, reason: WaitingReason, fields: Partial<QueueEntry> = {}): QueueEntry {
  return {
    position,
    job_id: `job-${position}`,
    card_id: `card-${position}`,
    card_title: title,
    repo_id: 'repo-1',
    repo_name: 'demo',
    kind: 'build',
    step_id: null,
    priority: 1,
    effective_priority: 1,
    queued_at: '2026-01-01T00:00:00Z',
    waited_s: 65,
    held: reason.code === 'held' || reason.code === 'over_budget',
    reason,
    ...fields,
  };
}

export function makeQueue(jobs: QueueEntry[], fields: Partial<QueueRead['stats']> = {}): QueueRead {
  return {
    jobs,
    total: jobs.length,
    aging_s: 600,
    stats: {
      queued: jobs.length,
      held: jobs.filter((j) => j.held).length,
      running: 1,
      by_priority: [3, 2, 1, 0].map((priority) => ({
        priority,
        queued: jobs.filter((j) => j.priority === priority).length,
        held: jobs.filter((j) => j.priority === priority && j.held).length,
      })),
      oldest_queued_at: jobs[0]?.queued_at ?? null,
      oldest_wait_s: jobs.length ? 65 : null,
      ...fields,
    },
  };
}

/** jsdom has no modal dialogs: open and close them the way the browser would. */
export function polyfillDialog(): void {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
}
