import { describe, expect, it } from 'vitest';
import type { LearningRead } from '../api';
import type { BoardEvent } from '../live/events';
import { byUsefulness, LearningsState, parseGlobs } from './learnings.svelte';

let next = 0;
function learning(fields: Partial<LearningRead> = {}): LearningRead {
  next += 1;
  return {
    id: `l${next}`,
    repo_id: 'repo-1',
    text: `learning ${next}`,
    paths: [],
    kind: 'advice',
    status: 'accepted',
    source: 'person',
    card_id: null,
    job_id: null,
    comment_id: null,
    helpful: 0,
    harmful: 0,
    uses: 0,
    last_used_at: null,
    decided_at: null,
    created_at: `2026-01-01T00:00:${String(next).padStart(2, '0')}Z`,
    updated_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

const event = (type: 'learning_updated' | 'learning_deleted', data: unknown) =>
  ({ seq: 1, at: '2026-01-01T00:00:00Z', type, data }) as BoardEvent;

describe('learnings', () => {
  it('orders the most useful first: marks, then uses, then the newest', () => {
    const harmful = learning({ harmful: 2 });
    const used = learning({ uses: 5 });
    const helpful = learning({ helpful: 1 });
    const older = learning();
    const newer = learning();
    expect([harmful, older, used, newer, helpful].sort(byUsefulness).map((l) => l.id)).toEqual([
      helpful.id,
      used.id,
      newer.id,
      older.id,
      harmful.id,
    ]);
  });

  it('reads globs typed with commas, spaces or line breaks, once each', () => {
    expect(parseGlobs(' src/**, tests/**\n*.py  src/** ')).toEqual(['src/**', 'tests/**', '*.py']);
    expect(parseGlobs('  ')).toEqual([]);
  });

  it("keeps the loaded repo's list current from events, and counts every event", () => {
    const state = new LearningsState();
    const mine = learning({ status: 'proposed' });
    state.repoId = 'repo-1';
    state.items = [mine];
    expect(state.proposed.map((l) => l.id)).toEqual([mine.id]);

    state.apply(event('learning_updated', { learning: { ...mine, status: 'accepted' } }));
    expect(state.items.map((l) => l.status)).toEqual(['accepted']);
    expect(state.proposed).toEqual([]);

    const elsewhere = learning({ repo_id: 'repo-2' });
    state.apply(event('learning_updated', { learning: elsewhere }));
    expect(state.items.map((l) => l.id)).toEqual([mine.id]); // another repo's: not listed here

    state.apply(event('learning_deleted', { learning_id: mine.id, repo_id: 'repo-1' }));
    expect(state.items).toEqual([]);
    expect(state.version).toBe(3); // open cards reload their learnings on each
  });
});
