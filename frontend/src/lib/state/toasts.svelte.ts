// Short messages in the corner: what failed and why (the backend's sentence), or what happened.
import { ApiError } from '../api/client';

export type Toast = { id: number; kind: 'error' | 'info'; text: string };

export class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  show = (text: string, kind: Toast['kind'] = 'info', ttl = 6000): number => {
    const id = this.#next++;
    this.items = [...this.items, { id, kind, text }].slice(-5);
    if (ttl > 0) setTimeout(() => this.dismiss(id), ttl);
    return id;
  };

  dismiss = (id: number): void => {
    this.items = this.items.filter((t) => t.id !== id);
  };
}

export const toasts = new Toasts();

/** One sentence for any error: the backend's detail when it gave one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Log and show an error: `message` says what the user tried, the rest says why it failed. */
export function handleError(error: unknown, message: string): string {
  const text = `${message}: ${describeError(error)}`;
  console.error(message, error);
  toasts.show(text, 'error', 9000);
  return text;
}
