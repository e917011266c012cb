import { describe, expect, it } from 'vitest';
import { atBottom, HeightIndex, visibleRange } from './heights';

describe('HeightIndex', () => {
  it('sums offsets and finds the row at y', () => {
    const h = new HeightIndex(2);
    [10, 20, 30, 40].forEach((x) => h.push(x)); // grows past its capacity
    expect(h.total()).toBe(100);
    expect(h.offsetOf(0)).toBe(0);
    expect(h.offsetOf(2)).toBe(30);
    expect(h.indexAt(0)).toBe(0);
    expect(h.indexAt(9.9)).toBe(0);
    expect(h.indexAt(10)).toBe(1);
    expect(h.indexAt(59)).toBe(2);
    expect(h.indexAt(60)).toBe(3);
    expect(h.indexAt(1000)).toBe(3);
    expect(h.set(1, 25)).toBe(5);
    expect(h.offsetOf(3)).toBe(65);
    expect(h.indexAt(34)).toBe(1);
  });

  it('stays fast and exact with 100,000 rows', () => {
    const h = new HeightIndex();
    for (let i = 0; i < 100_000; i++) h.push(20);
    expect(h.total()).toBe(2_000_000);
    expect(h.indexAt(1_000_010)).toBe(50_000);
    h.set(0, 120);
    expect(h.indexAt(1_000_110)).toBe(50_000);
  });
});

describe('visibleRange', () => {
  it('covers the viewport plus overscan, clamped to the rows', () => {
    const h = new HeightIndex();
    for (let i = 0; i < 1000; i++) h.push(20);
    expect(visibleRange(h, 0, 100, 2)).toEqual({ start: 0, end: 7 });
    expect(visibleRange(h, 2000, 100, 2)).toEqual({ start: 98, end: 107 });
    expect(visibleRange(h, 19_950, 100, 2)).toEqual({ start: 995, end: 1000 });
    expect(visibleRange(new HeightIndex(), 0, 100)).toEqual({ start: 0, end: 0 });
  });

  it('tells when the view is at the bottom', () => {
    expect(atBottom(900, 100, 1000)).toBe(true);
    expect(atBottom(800, 100, 1000)).toBe(false);
  });
});
