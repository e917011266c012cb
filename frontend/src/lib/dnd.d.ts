// svelte-dnd-action dispatches `consider` and `finalize` events on its zone element.
import type { DndEvent } from 'svelte-dnd-action';

declare module 'svelte/elements' {
  interface HTMLAttributes<T> {
    onconsider?: (event: CustomEvent<DndEvent<import('./api').CardRead>>) => void;
    onfinalize?: (event: CustomEvent<DndEvent<import('./api').CardRead>>) => void;
  }
}
export {};
