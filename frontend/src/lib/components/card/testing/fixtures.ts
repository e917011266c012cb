// Fixtures in the backend's real shapes (see src/lib/api/openapi.json), and a fetch stub.
import { vi } from 'vitest';
import type { CardRead, CommentRead, ConflictRead, DiffResult, JobEventRead, JobLogPage, JobRead } from '../../../api';
import type { AppContext } from '../../../state/context';
import type { BoardEvent } from '../../../live/events';
import { WorkflowState } from '../../../state/workflows.svelte';

export const CARD_ID = '6f1d3a52-0d7e-4c1e-9a51-2f3c4b5a6d7e';
export const JOB_ID = '0b8f5c2e-8a9d-4f3b-9c1e-7d6a5b4c3d2e';

export const card: CardRead = {
  id: CARD_ID,
  repo_id: '11111111-2222-3333-4444-555555555555',
  title: 'Add a greeting',
  description: 'Say hello from main.py',
  status: 'in_review',
  position: 0,
  priority: 1,
  branch_name: 'lazyaf/6f1d3a52-add-a-greeting',
  pr_url: null,
  job_id: JOB_ID,
  max_attempts: 3,
  conflict_files: null,
  merge_sha: null,
  total_cost_usd: 0,
  merged_head_sha: null,
  merge_base_sha: null,
  created_at: '2026-11-22T10:00:00Z',
  updated_at: '2026-11-22T10:05:00Z',
};

export const job: JobRead = {
  id: JOB_ID, card_id: CARD_ID, runner_id: null, status: 'completed', kind: 'build', step_id: null, agent: 'claude',
  branch: card.branch_name!, base_branch: 'main', attempt: 1, phase: 'done', error: null, exit_code: 0,
  base_sha: 'a'.repeat(40), head_sha: 'b'.repeat(40), commits: 1, files_changed: 3, lines_added: 4,
  lines_removed: 1, session_id: 'sess-1', cost_usd: 0.0123, input_tokens: 1200, output_tokens: 340,
  num_turns: 4, duration_ms: 65000, cancel_requested: false, verification: null, no_changes: false,
  queued_at: '2026-11-22T10:00:01Z', started_at: '2026-11-22T10:00:02Z',
  agent_started_at: '2026-11-22T10:00:03Z', completed_at: '2026-11-22T10:01:07Z',
};

export const diff: DiffResult = {
  base_sha: 'a'.repeat(40),
  head_sha: 'b'.repeat(40),
  merge_base_sha: 'a'.repeat(40),
  total_files: 3,
  offset: 0,
  limit: 100,
  additions: 4,
  deletions: 1,
  patch: '',
  files: [
    {
      path: 'main.py', old_path: null, status: 'modified', additions: 2, deletions: 1, binary: false,
      too_large: false, old_mode: '100644', new_mode: '100644',
      hunks: [
        {
          old_start: 1, old_lines: 3, new_start: 1, new_lines: 4, header: 'def main():',
          lines: [
            { kind: 'context', old_line: 1, new_line: 1, text: 'def main():' },
            { kind: 'delete', old_line: 2, new_line: null, text: '    pass' },
            { kind: 'add', old_line: null, new_line: 2, text: '    print("hello")' },
            { kind: 'add', old_line: null, new_line: 3, text: '    return 0' },
            { kind: 'context', old_line: 3, new_line: 4, text: '' },
          ],
        },
      ],
    },
    {
      path: 'logo.png', old_path: null, status: 'added', additions: 0, deletions: 0, binary: true,
      too_large: false, old_mode: null, new_mode: '100644', hunks: [],
    },
    {
      path: 'docs/new.md', old_path: 'docs/old.md', status: 'renamed', additions: 2, deletions: 0,
      binary: false, too_large: false, old_mode: '100644', new_mode: '100644',
      hunks: [
        {
          old_start: 0, old_lines: 0, new_start: 1, new_lines: 2, header: '',
          lines: [
            { kind: 'add', old_line: null, new_line: 1, text: '# Title' },
            { kind: 'add', old_line: null, new_line: 2, text: 'Text' },
          ],
        },
      ],
    },
  ],
};

export const comment = (over: Partial<CommentRead> = {}): CommentRead => ({
  id: crypto.randomUUID(), card_id: CARD_ID, body: 'Use a constant', file: 'main.py', line: 2,
  snippet: ' def main():\n-    pass\n+    print("hello")', job_id: null, created_at: '2026-11-22T10:06:00Z', ...over,
});

let nextId = 1;
export function event(seq: number, data: Record<string, unknown>, attempt = 1): JobEventRead {
  return { id: nextId++, attempt, seq, kind: String(data.kind), data, created_at: '2026-11-22T10:00:05Z' };
}

export function logPage(events: JobEventRead[]): JobLogPage {
  return { events, next_after: events.at(-1)?.id ?? 0, job_status: 'running' };
}

type Route = (url: URL, init: RequestInit) => unknown;

/** Stub fetch: the first route whose key is a prefix of "METHOD /path" answers (JSON, 200/201). */
export function stubFetch(routes: Record<string, Route>) {
  const mock = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://localhost');
    const key = `${init.method ?? 'GET'} ${url.pathname}`;
    const route = Object.entries(routes).find(([prefix]) => key.startsWith(prefix));
    if (!route) return new Response(JSON.stringify({ detail: `no route for ${key}` }), { status: 404 });
    const body = route[1](url, init);
    return new Response(JSON.stringify(body), { status: init.method === 'POST' ? 201 : 200 });
  });
  vi.stubGlobal('fetch', mock);
  return mock;
}

/** A fake app context: a board with the card and its job, a live socket tests can emit on. */
export function fakeContext(
  overrides: {
    jobs?: Record<string, JobRead>;
    status?: 'live' | 'offline';
    github?: Record<string, unknown> | null;
    conflicts?: ConflictRead[];
    workflows?: WorkflowState;
  } = {},
) {
  const listeners = new Set<(e: BoardEvent) => void>();
  const board = {
    jobs: overrides.jobs ?? { [CARD_ID]: job },
    act: vi.fn(async () => true),
    update: vi.fn(async () => true),
    remove: vi.fn(async () => true),
    github: { link: null, openPullRequest: vi.fn(async () => true), ...(overrides.github ?? {}) },
    conflicts: { of: (id: string) => (id === CARD_ID ? (overrides.conflicts ?? []) : []) },
    card: () => undefined,
    openById: vi.fn(async () => undefined),
    workflows: overrides.workflows ?? new WorkflowState(),
    runs: {},
  };
  const actions = {
    start: vi.fn(async () => true),
    reject: vi.fn(),
    retry: vi.fn(async () => true),
  };
  const live = {
    status: overrides.status ?? 'live',
    unreachable: overrides.status === 'offline',
    subscribe: (listener: (e: BoardEvent) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const emit = (e: BoardEvent) => listeners.forEach((l) => l(e));
  return { context: { board, live, runners: {}, actions, keyboard: {} } as unknown as AppContext, board, actions, emit };
}
