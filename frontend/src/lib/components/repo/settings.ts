// The repo settings form's fields, and the change to send: only what the user changed.
import type { RepoRead, RepoUpdate } from '../../api';

export const COMMANDS = [
  { key: 'setup_command', label: 'Setup command', hint: 'Runs first, e.g. installing dependencies' },
  { key: 'lint_command', label: 'Lint command', hint: 'e.g. ruff check .' },
  { key: 'test_command', label: 'Test command', hint: 'e.g. pytest -q' },
  { key: 'build_command', label: 'Build command', hint: 'e.g. npm run build' },
] as const;

export type SettingsForm = {
  remote_url: string;
  default_branch: string;
  merge_strategy: RepoRead['merge_strategy'];
  conflict_policy: RepoRead['conflict_policy'];
  setup_command: string;
  lint_command: string;
  test_command: string;
  build_command: string;
  /** Seconds, as typed; '' follows the server's setting. */
  stall_after_s: string;
  kill_after_s: string;
};

export function formOf(repo: RepoRead): SettingsForm {
  return {
    remote_url: repo.remote_url ?? '',
    default_branch: repo.default_branch,
    merge_strategy: repo.merge_strategy,
    conflict_policy: repo.conflict_policy,
    setup_command: repo.setup_command ?? '',
    lint_command: repo.lint_command ?? '',
    test_command: repo.test_command ?? '',
    build_command: repo.build_command ?? '',
    stall_after_s: repo.stall_after_s == null ? '' : String(repo.stall_after_s),
    kill_after_s: repo.kill_after_s == null ? '' : String(repo.kill_after_s),
  };
}

export const STALL_FIELDS = ['stall_after_s', 'kill_after_s'] as const;

/** The PATCH body for what changed between `before` and `after` (an empty remote clears it). */
export function changeOf(before: SettingsForm, after: SettingsForm): RepoUpdate {
  const change: RepoUpdate = {};
  const remote = after.remote_url.trim();
  if (remote !== before.remote_url.trim()) change.remote_url = remote || null;
  if (after.default_branch !== before.default_branch) change.default_branch = after.default_branch;
  if (after.merge_strategy !== before.merge_strategy) change.merge_strategy = after.merge_strategy;
  if (after.conflict_policy !== before.conflict_policy) change.conflict_policy = after.conflict_policy;
  for (const { key } of COMMANDS) {
    const value = after[key].trim();
    if (value !== before[key].trim()) change[key] = value; // '' clears the step
  }
  for (const key of STALL_FIELDS) {
    const value = after[key].trim();
    if (value === before[key].trim()) continue;
    // '' returns to the server's setting; anything but whole seconds goes as typed, for the server
    // to say what it accepts (a NaN would travel as null and quietly clear the setting).
    (change as Record<string, unknown>)[key] = value === '' ? null : /^\d+$/.test(value) ? Number(value) : value;
  }
  return change;
}
