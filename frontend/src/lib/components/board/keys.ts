// The keys a focused card answers to on the board (Column listens in the capture phase, ahead
// of svelte-dnd-action, whose own keyboard drag moves between columns only by Tab and sends a
// move at every column it passes): Enter opens the card; Space picks it up, the arrows move it,
// Space (or Enter) drops it, Escape puts it back, Tab puts it back and moves on.
import { setAriaStrings } from 'svelte-dnd-action';
import { tick } from 'svelte';
import type { BoardState } from '../../state/board.svelte';
import { MOVE_KEYS, type KeyboardDrag, type MoveKey } from '../../state/keyboard.svelte';

setAriaStrings({
  zoneActiveInstruction:
    'Focus a card and press Enter to open it, or Space to pick it up: the arrow keys move it, left and right ' +
    'to another column, up and down within one; Space drops it, Escape puts it back.',
});

/** Focus the board's item for card `id` (after a move re-rendered it in another column; ids are UUIDs). */
export async function focusCard(id: string): Promise<void> {
  await tick();
  document.querySelector<HTMLElement>(`[role="listitem"][data-card-id="${id}"]`)?.focus();
}

/** Handle `event` if it is a key for the focused card item; true when it was one. */
export function cardKey(event: KeyboardEvent, zone: HTMLElement, board: BoardState, keyboard: KeyboardDrag, offline: string | null): boolean {
  const item = event.target as HTMLElement;
  const id = item.parentElement === zone ? item.dataset.cardId : undefined;
  if (!id || event.altKey || event.ctrlKey || event.metaKey) return false;
  const held = keyboard.held;
  const key = event.key;
  if (held === null) {
    if (key === 'Enter') board.openCardId = id;
    else if (key === ' ') {
      if (offline) keyboard.message = offline;
      else keyboard.pickUp(id);
    } else return false;
  } else if (key === ' ' || key === 'Enter') {
    void keyboard.drop();
    void focusCard(held);
  } else if (MOVE_KEYS.includes(key)) {
    keyboard.move(key as MoveKey);
    void focusCard(held);
  } else if (key === 'Escape') {
    keyboard.cancel();
    void focusCard(held);
  } else {
    if (key === 'Tab') keyboard.cancel();
    return false;
  }
  event.preventDefault();
  event.stopPropagation();
  return true;
}
