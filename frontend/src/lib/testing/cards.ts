// A card in the API's shape, for tests.
import type { CardRead } from '../api';

let next = 0;

export function makeCard(fields: Partial<CardRead> = {}): CardRead {
  next += 1;
  return {
    id: `00000000-0000-0000-0000-${String(next).padStart(12, '0')}`,
    repo_id: 'repo-1',
    title: `card ${next}`,
    description: '',
    status: 'todo',
    position: 0,
    priority: 1,
    branch_name: null,
    pr_url: null,
    job_id: null,
    max_attempts: 3,
    conflict_files: null,
    merge_sha: null,
    total_cost_usd: 0,
    merged_head_sha: null,
    merge_base_sha: null,
    created_at: `2026-01-01T00:00:${String(next % 60).padStart(2, '0')}Z`,
    updated_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}
