// The limit fields as the limits dialog shows them, and the text each starts from.
import type { LimitValues, RepoLimitsRead } from '../../api';
import { formatCost } from '../../format';

/** One limit's field: its key, words, the input's step, and (a repo's) what applies when empty. */
export type FieldInfo = { key: string; label: string; hint: string; step: string; fallback?: string | null };

export const INTEGER_KEYS = [
  'max_running',
  'max_running_per_repo',
  'daily_agent_runs',
  'cooldown_s',
  'failure_cooldown_after',
] as const;

export const GLOBAL_FIELDS: FieldInfo[] = [
  { key: 'max_running', label: 'Running at once', hint: 'Attempts running at once, all repos together.', step: '1' },
  { key: 'max_running_per_repo', label: 'Running per repo', hint: 'Attempts running at once in any one repo.', step: '1' },
  { key: 'daily_usd', label: 'Daily budget ($)', hint: 'What agents may cost since local midnight.', step: '0.01' },
  { key: 'daily_agent_runs', label: 'Agent runs a day', hint: 'Agent runs that may start since local midnight.', step: '1' },
  { key: 'per_card_usd', label: 'Budget per card ($)', hint: "Past it, a card's next step fails instead of starting.", step: '0.01' },
  { key: 'failure_cooldown_after', label: 'Pause after failures', hint: 'Failed agent runs in a row that pause a repo…', step: '1' },
  { key: 'cooldown_s', label: 'Pause (seconds)', hint: '…for this long.', step: '1' },
];

const REPO_HINTS: Record<string, string> = {
  max_running: "This repo's attempts running at once.",
  daily_usd: "This repo's own budget since local midnight, besides the global one.",
  daily_agent_runs: "This repo's agent runs since local midnight, besides the global limit.",
  per_card_usd: 'What one card of this repo may cost.',
  failure_cooldown_after: 'Failed agent runs in a row that pause this repo…',
  cooldown_s: '…for this long.',
};

/** A repo's fields, each saying what applies when it is left empty (the global value). */
export function repoFields(global: LimitValues): FieldInfo[] {
  const fallback: Record<string, number | null> = {
    max_running: global.max_running_per_repo,
    daily_usd: null,
    daily_agent_runs: null,
    per_card_usd: global.per_card_usd,
    failure_cooldown_after: global.failure_cooldown_after,
    cooldown_s: global.cooldown_s,
  };
  return GLOBAL_FIELDS.filter((f) => f.key !== 'max_running_per_repo').map((f) => {
    const value = fallback[f.key];
    const shown = value === null ? null : f.key.endsWith('_usd') ? formatCost(value) : String(value);
    return { ...f, hint: REPO_HINTS[f.key], fallback: shown };
  });
}

/** Each field's starting text: its value, or empty for no limit. */
export function asText(values: object): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** The repo's own values, for its form (its limits, not what applies). */
export const ownValues = (entry: RepoLimitsRead | null): Record<string, number | null> =>
  entry
    ? { ...entry.limits }
    : { max_running: null, daily_usd: null, daily_agent_runs: null, per_card_usd: null, cooldown_s: null, failure_cooldown_after: null };
