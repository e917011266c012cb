import { describe, expect, it } from 'vitest';
import { makeMetrics } from '../testing/metrics';
import { costSeries, dayStart, formatCount, formatRate, formatSpan, hasData, spanSummary, throughputSeries, tiles } from './charts';

describe('metrics charts', () => {
  it('puts each day at its local midnight, in seconds', () => {
    const start = dayStart('2026-06-14');
    const date = new Date(start * 1000);
    expect([date.getFullYear(), date.getMonth(), date.getDate(), date.getHours(), date.getMinutes()]).toEqual([2026, 5, 14, 0, 0]);
    expect(dayStart('2026-06-15') - start).toBe(86_400);
  });

  it('plots spend with tokens, and cards with attempts, one value per day', () => {
    const days = makeMetrics().per_day;
    const x = days.map((d) => dayStart(d.day));
    expect(costSeries(days)).toEqual([x, [0, 0.5, 0.75], [0, 5500, 8000]]);
    expect(throughputSeries(days)).toEqual([x, [0, 1, 1], [0, 3, 2], [0, 2, 0]]);
    expect(hasData(costSeries(days))).toBe(true);
    expect(hasData(costSeries([days[0]]))).toBe(false);
  });

  it('formats rates, spans and counts for people', () => {
    expect([formatRate(2 / 3), formatRate(0), formatRate(null)]).toEqual(['67%', '0%', '—']);
    expect([45, 720, 3 * 3600 + 5 * 60, 52 * 3600, null].map(formatSpan)).toEqual(['45s', '12m', '3h 05m', '2d 04h', '—']);
    expect([999, 1234, 56_789, 3_400_000, null].map(formatCount)).toEqual(['999', '1.2k', '57k', '3.4M', '—']);
    expect(spanSummary({ count: 0, mean: null, median: null, p90: null, max: null })).toBe('no cards yet');
    expect(spanSummary({ count: 1, mean: 60, median: 60, p90: 60, max: 60 })).toBe('median 1m · p90 1m · 1 card');
  });

  it('says which figures are not kept yet instead of showing zero', () => {
    const shown = Object.fromEntries(tiles(makeMetrics()).map((t) => [t.label, t]));
    expect(shown['Cards done']).toEqual({ label: 'Cards done', value: '2', detail: '4 started' });
    expect(shown['First-time success'].value).toBe('33%');
    expect(shown['Success after retries'].value).toBe('67%');
    expect(shown['Attempts per card'].value).toBe('1.7');
    expect(shown['Time to review']).toMatchObject({ value: '25m', detail: 'median 25m · p90 45m · 2 cards' });
    expect(shown['Review to merge'].value).toBe('25h 00m');
    expect(shown['Spend']).toMatchObject({ value: '$1.25', detail: '14k tokens · 5 attempts' });
    expect(shown['Conflicts at merge']).toMatchObject({ value: '1', detail: 'predictions off' });
    expect(shown['Learnings used']).toMatchObject({ value: '—', detail: 'no learnings kept' });
    const wired = tiles(makeMetrics({ conflicts: { met_at_merge: 3, cards_met_at_merge: 2, predicted: 5, predicted_then_met: 2 }, learnings: { used: 0 } }));
    expect(wired.find((t) => t.label === 'Conflicts at merge')?.detail).toBe('5 predicted · 2 foreseen');
    expect(wired.find((t) => t.label === 'Learnings used')?.value).toBe('0');
  });
});
