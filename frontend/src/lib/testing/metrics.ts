// A GET /api/metrics answer for specs: three days, two of them with work.
import type { MetricsRead } from '../api';

const none = { count: 0, mean: null, median: null, p90: null, max: null };

export function makeMetrics(overrides: Partial<MetricsRead> = {}): MetricsRead {
  return {
    repo_id: null,
    days: 3,
    timezone: 'UTC',
    since: '2026-06-13T00:00:00Z',
    until: '2026-06-15T12:00:00Z',
    cards: {
      started: 4,
      settled: 3,
      done: 2,
      first_time_success_rate: 1 / 3,
      success_rate_after_retries: 2 / 3,
      attempts_per_card: { count: 3, mean: 5 / 3, median: 2, p90: 2, max: 2 },
      attempts_histogram: [
        { attempts: 1, cards: 1 },
        { attempts: 2, cards: 2 },
      ],
    },
    durations: {
      time_to_review_s: { count: 2, mean: 1500, median: 1500, p90: 2700, max: 3000 },
      review_to_merge_s: { count: 2, mean: 90_000, median: 90_000, p90: 160_000, max: 180_000 },
    },
    cost: {
      total_usd: 1.25,
      input_tokens: 12_000,
      output_tokens: 1_500,
      attempts: 5,
      per_card_usd: { count: 3, mean: 0.4166, median: 0.45, p90: 0.7, max: 0.75 },
      per_card_tokens: { count: 3, mean: 4500, median: 4000, p90: 7000, max: 7500 },
    },
    per_day: [
      { day: '2026-06-13', cards_done: 0, attempts: 0, failed_attempts: 0, cost_usd: 0, input_tokens: 0, output_tokens: 0 },
      { day: '2026-06-14', cards_done: 1, attempts: 3, failed_attempts: 2, cost_usd: 0.5, input_tokens: 5000, output_tokens: 500 },
      { day: '2026-06-15', cards_done: 1, attempts: 2, failed_attempts: 0, cost_usd: 0.75, input_tokens: 7000, output_tokens: 1000 },
    ],
    costliest_cards: [
      { card_id: 'c1', title: 'Costly card', status: 'done', attempts: 2, cost_usd: 0.75, input_tokens: 7000, output_tokens: 1000 },
      { card_id: 'c2', title: 'Cheap card', status: 'in_review', attempts: 1, cost_usd: 0.5, input_tokens: 5000, output_tokens: 500 },
    ],
    failures: {
      total: 2,
      reasons: [
        { reason: 'verification:test', label: 'Check failed: test', count: 1 },
        { reason: 'timeout', label: 'Timed out', count: 1 },
      ],
    },
    conflicts: { met_at_merge: 1, cards_met_at_merge: 1, predicted: null, predicted_then_met: null },
    learnings: { used: null },
    ...overrides,
  };
}

export const emptySpread = none;
