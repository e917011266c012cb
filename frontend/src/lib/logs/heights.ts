// Window math for the virtual log list: row heights (estimated, then measured) in a Fenwick tree,
// so offsets, the total and "which row is at y" cost O(log n) even with 100,000 rows.

export class HeightIndex {
  #tree: Float64Array;
  #heights: Float64Array;
  #size = 0;

  constructor(capacity = 1024) {
    this.#tree = new Float64Array(capacity + 1);
    this.#heights = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  get(index: number): number {
    return this.#heights[index] ?? 0;
  }

  push(height: number): void {
    if (this.#size === this.#heights.length) this.#grow();
    this.#heights[this.#size] = height;
    this.#add(this.#size, height);
    this.#size++;
  }

  /** Set a row's height; returns the change. */
  set(index: number, height: number): number {
    const delta = height - this.#heights[index];
    if (delta !== 0) {
      this.#heights[index] = height;
      this.#add(index, delta);
    }
    return delta;
  }

  /** The top of row `index` (the sum of the heights before it). */
  offsetOf(index: number): number {
    let sum = 0;
    for (let i = Math.min(index, this.#size); i > 0; i -= i & -i) sum += this.#tree[i];
    return sum;
  }

  total(): number {
    return this.offsetOf(this.#size);
  }

  /** The row that contains y (clamped to the rows there are); 0 when empty. */
  indexAt(y: number): number {
    if (this.#size === 0 || y <= 0) return 0;
    let index = 0;
    let remaining = y;
    let step = 1;
    while (step * 2 <= this.#size) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = index + step;
      if (next <= this.#size && this.#tree[next] <= remaining) {
        index = next;
        remaining -= this.#tree[next];
      }
    }
    return Math.min(index, this.#size - 1);
  }

  clear(): void {
    this.#tree.fill(0);
    this.#heights.fill(0);
    this.#size = 0;
  }

  #add(index: number, delta: number): void {
    for (let i = index + 1; i < this.#tree.length; i += i & -i) this.#tree[i] += delta;
  }

  #grow(): void {
    const heights = new Float64Array(this.#heights.length * 2);
    heights.set(this.#heights);
    this.#heights = heights;
    this.#tree = new Float64Array(heights.length + 1);
    for (let i = 0; i < this.#size; i++) this.#add(i, heights[i]);
  }
}

/** The rows to render: those overlapping [scrollTop, scrollTop + viewport], plus `overscan` each side. */
export function visibleRange(
  heights: HeightIndex,
  scrollTop: number,
  viewport: number,
  overscan = 8,
): { start: number; end: number } {
  if (heights.size === 0) return { start: 0, end: 0 };
  const first = heights.indexAt(scrollTop);
  const last = heights.indexAt(scrollTop + Math.max(viewport, 1) - 0.5);
  return { start: Math.max(0, first - overscan), end: Math.min(heights.size, last + 1 + overscan) };
}

/** Near enough to the bottom that new rows should keep the view pinned there. */
export function atBottom(scrollTop: number, viewport: number, scrollHeight: number, slack = 24): boolean {
  return scrollHeight - (scrollTop + viewport) <= slack;
}
