import { defineStore } from "pinia";
import { shallowRef } from "vue";

/**
 * A confirmation to show once on the next page, e.g. "kind saved" after the room form
 * returns to the list. It lives here because it crosses from one view to another.
 */
export const useNoticeStore = defineStore("notice", () => {
  const pending = shallowRef<string | null>(null);

  function post(message: string): void {
    pending.value = message;
  }

  function take(): string | null {
    const message = pending.value;
    pending.value = null;
    return message;
  }

  return { post, take };
});
