// The GitHub settings' forms as plain data, and what to send for them (tested in forms.spec.ts).
import type { GitHubLinkRead, GitHubLinkWrite, SyncResult, SyncRule } from '../../api';
import { plural } from '../../format';

export type LinkForm = {
  repository: string; // OWNER/NAME
  token: string;
  api_url: string;
  git_url: string;
  on_approve: 'merge' | 'pull_request';
};

export function linkFormOf(link: GitHubLinkRead | null): LinkForm {
  return {
    repository: link ? `${link.owner}/${link.name}` : '',
    token: '',
    api_url: link && link.api_url !== 'https://api.github.com' ? link.api_url : '',
    git_url: link?.git_url ?? '',
    on_approve: link?.on_approve ?? 'merge',
  };
}

/** The PUT body, or a sentence saying what to fix. An empty token keeps the stored one. */
export function linkBodyOf(form: LinkForm, linked: boolean): GitHubLinkWrite | string {
  const [owner, name, ...rest] = form.repository.trim().replace(/^https:\/\/github\.com\//, '').replace(/\.git$/, '').split('/');
  if (!owner || !name || rest.length) return 'Give the repository as OWNER/NAME, e.g. octo-org/hello-world.';
  const token = form.token.trim();
  if (!token && !linked) return 'A token with write access to the repository is needed to link it.';
  const body: GitHubLinkWrite = { owner, name, on_approve: form.on_approve };
  if (token) body.token = token;
  if (form.api_url.trim()) body.api_url = form.api_url.trim();
  if (form.git_url.trim()) body.git_url = form.git_url.trim();
  return body;
}

export type RuleForm = {
  state: 'open' | 'all';
  labels: string;
  exclude_labels: string;
  assignee: string;
  milestone: string;
  auto_start: boolean;
  workflow: string;
  max_concurrent: number;
  interval_s: number;
};

const DEFAULT_RULE: SyncRule = {
  state: 'open',
  labels: [],
  exclude_labels: ['lazyaf:skip'],
  assignee: null,
  milestone: null,
  auto_start: false,
  workflow: 'build',
  max_concurrent: 2,
  interval_s: 60,
};

export function ruleFormOf(rule: SyncRule | null | undefined): RuleForm {
  const r = { ...DEFAULT_RULE, ...(rule ?? {}) };
  return {
    state: r.state ?? 'open',
    labels: (r.labels ?? []).join(', '),
    exclude_labels: (r.exclude_labels ?? []).join(', '),
    assignee: r.assignee ?? '',
    milestone: r.milestone ?? '',
    auto_start: r.auto_start ?? false,
    workflow: r.workflow ?? 'build',
    max_concurrent: r.max_concurrent ?? 2,
    interval_s: r.interval_s ?? 60,
  };
}

const list = (text: string) =>
  text
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);

export function ruleOf(form: RuleForm): SyncRule {
  return {
    state: form.state,
    labels: list(form.labels),
    exclude_labels: list(form.exclude_labels),
    assignee: form.assignee.trim() || null,
    milestone: form.milestone.trim() || null,
    auto_start: form.auto_start,
    workflow: form.workflow,
    max_concurrent: Number(form.max_concurrent),
    interval_s: Number(form.interval_s),
  };
}

/** "3 cards created, 1 updated, 0 closed, 2 issues skipped". */
export function describeSync(result: SyncResult): string {
  return `${plural(result.created ?? 0, 'card')} created, ${result.updated ?? 0} updated, ${result.closed ?? 0} closed, ${plural(result.skipped ?? 0, 'issue')} skipped`;
}
