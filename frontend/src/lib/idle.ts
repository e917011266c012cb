// Resolve when the browser is idle (or after `timeout` ms at the latest): work that can wait for
// the first screen to be usable waits here.
export function idle(timeout = 1500): Promise<void> {
  return new Promise((resolve) => {
    if (typeof requestIdleCallback === 'function') requestIdleCallback(() => resolve(), { timeout });
    else setTimeout(resolve, 50);
  });
}
