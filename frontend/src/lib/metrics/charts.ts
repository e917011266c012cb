// What the Metrics page plots and prints, from GET /api/metrics: pure functions (charts.spec.ts).
import type { DayMetrics, MetricsRead, Spread } from '../api';

/** uPlot's data: x (seconds since the epoch), then one array per series. */
export type Series = [number[], ...(number | null)[][]];

/** Local midnight of an ISO day ("2026-06-05"), in seconds: uPlot's time axis reads local time. */
export function dayStart(day: string): number {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d).getTime() / 1000;
}

/** Spend per day: dollars, and tokens (input + output) on a second axis. */
export function costSeries(days: readonly DayMetrics[]): Series {
  return [days.map((d) => dayStart(d.day)), days.map((d) => d.cost_usd), days.map((d) => d.input_tokens + d.output_tokens)];
}

/** Throughput per day: cards done, attempts that ended, and of those the failed ones. */
export function throughputSeries(days: readonly DayMetrics[]): Series {
  return [days.map((d) => dayStart(d.day)), days.map((d) => d.cards_done), days.map((d) => d.attempts), days.map((d) => d.failed_attempts)];
}

/** Whether a series has anything to draw (an all-zero period shows an empty-state line instead). */
export function hasData(series: Series): boolean {
  return series.slice(1).some((values) => values.some((v) => v !== null && v !== 0));
}

/** A share as a percentage: "67%"; a dash when there is nothing to divide. */
export function formatRate(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

/** A span of seconds for people: "45s", "12m", "3h 05m", "2d 04h"; a dash for none. */
export function formatSpan(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

/** "1.2k", "3.4M": token counts in little room. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1000) return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 1 : 0)}M`;
}

/** "median 3m · p90 12m" of a spread of seconds, or the reason there is none. */
export function spanSummary(spread: Spread): string {
  if (spread.count === 0) return 'no cards yet';
  return `median ${formatSpan(spread.median)} · p90 ${formatSpan(spread.p90)} · ${spread.count} card${spread.count === 1 ? '' : 's'}`;
}

/** The figures the tiles show, in order: label, value, detail. */
export function tiles(m: MetricsRead): { label: string; value: string; detail: string }[] {
  const c = m.cards;
  const money = (usd: number | null | undefined) =>
    usd === null || usd === undefined ? '—' : `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const predicted = m.conflicts.predicted;
  return [
    { label: 'Cards done', value: String(c.done), detail: `${c.started} started` },
    { label: 'First-time success', value: formatRate(c.first_time_success_rate), detail: `of ${c.settled} settled` },
    { label: 'Success after retries', value: formatRate(c.success_rate_after_retries), detail: `of ${c.settled} settled` },
    {
      label: 'Attempts per card',
      value: c.attempts_per_card.mean === null ? '—' : c.attempts_per_card.mean.toFixed(1),
      detail: c.attempts_per_card.count ? `median ${c.attempts_per_card.median} · max ${c.attempts_per_card.max}` : 'no cards yet',
    },
    { label: 'Time to review', value: formatSpan(m.durations.time_to_review_s.median), detail: spanSummary(m.durations.time_to_review_s) },
    { label: 'Review to merge', value: formatSpan(m.durations.review_to_merge_s.median), detail: spanSummary(m.durations.review_to_merge_s) },
    { label: 'Spend', value: money(m.cost.total_usd), detail: `${formatCount(m.cost.input_tokens + m.cost.output_tokens)} tokens · ${m.cost.attempts} attempts` },
    {
      label: 'Spend per card',
      value: money(m.cost.per_card_usd.median),
      detail: m.cost.per_card_usd.count ? `median · p90 ${money(m.cost.per_card_usd.p90)} · ${formatCount(m.cost.per_card_tokens.median)} tokens` : 'no cards yet',
    },
    {
      label: 'Conflicts at merge',
      value: String(m.conflicts.met_at_merge),
      detail: predicted === null ? 'predictions off' : `${predicted} predicted · ${m.conflicts.predicted_then_met} foreseen`,
    },
    { label: 'Learnings used', value: m.learnings.used === null ? '—' : String(m.learnings.used), detail: m.learnings.used === null ? 'no learnings kept' : 'in prompts' },
  ];
}
