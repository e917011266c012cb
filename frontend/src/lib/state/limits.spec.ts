import { describe, expect, it } from 'vitest';
import { makeLimits, makeRepoLimits } from '../testing/limits';
import { limitChanges, LimitsState } from './limits.svelte';

describe('LimitsState', () => {
  it('takes the whole picture from a limits_updated event', () => {
    const state = new LimitsState();
    const limits = makeLimits({ usage: { spent_usd: 19.8, agent_runs: 3, input_tokens: 10, output_tokens: 2, running: 1 } }, { daily_usd: 20 });
    state.apply({ type: 'limits_updated', seq: 4, at: '', data: { limits, changed: false } });
    expect(state.current).toEqual(limits);
    expect(state.budgetUsed).toBeCloseTo(0.99);
    state.apply({ type: 'repo_deleted', seq: 5, at: '', data: { repo_id: 'r' } });
    expect(state.current).toEqual(limits);
  });

  it("gives a repo's running cap: its own max_running, else the global per-repo default", () => {
    const state = new LimitsState();
    expect(state.capFor('repo-1')).toBeNull();
    state.current = makeLimits({}, { max_running_per_repo: 2 });
    expect(state.capFor('repo-1')).toEqual({ running: 0, cap: 2, key: 'max_running_per_repo' });
    const entry = makeRepoLimits('repo-1', {
      effective: { ...makeRepoLimits('repo-1').effective, max_running: 1, max_running_key: 'max_running' },
      usage: { ...makeRepoLimits('repo-1').usage, running: 1 },
    });
    state.current = makeLimits({ repos: [entry] }, { max_running_per_repo: 2 });
    expect(state.capFor('repo-1')).toEqual({ running: 1, cap: 1, key: 'max_running' });
    expect(state.capFor(null)).toBeNull();
  });
});

describe('limitChanges', () => {
  const before = { max_running: 2, daily_usd: 20, per_card_usd: null };

  it('sends only what changed; an emptied field is null, no limit', () => {
    expect(limitChanges({ max_running: '2', daily_usd: '', per_card_usd: '1.5' }, before)).toEqual({
      daily_usd: null,
      per_card_usd: 1.5,
    });
    expect(limitChanges({ max_running: ' 2 ', daily_usd: '20', per_card_usd: '' }, before)).toEqual({});
  });

  it('refuses a negative or fractional count with a sentence naming the field', () => {
    expect(() => limitChanges({ max_running: '-1', daily_usd: '20', per_card_usd: '' }, before)).toThrow(
      'max_running must be a number, 0 or more (empty: no limit).',
    );
    expect(() => limitChanges<keyof typeof before>({ max_running: '1.5', daily_usd: '20', per_card_usd: '' }, before, ['max_running'])).toThrow(
      'max_running must be a whole number (empty: no limit).',
    );
  });
});
