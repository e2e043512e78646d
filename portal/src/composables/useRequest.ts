import { type Ref, ref, shallowRef } from "vue";
import { ApiError } from "../api/http";

export interface RequestState<T> {
  /** undefined until the first load succeeds */
  data: Ref<T | undefined>;
  error: Ref<ApiError | null>;
  loading: Ref<boolean>;
  run: () => Promise<void>;
}

/**
 * Loading state for a view's data. Only ApiError becomes `error`; anything else is a bug
 * and is left to propagate to Vue's error handler rather than shown as "try again".
 */
export function useRequest<T>(load: () => Promise<T>): RequestState<T> {
  const data = shallowRef<T | undefined>(undefined);
  const error = shallowRef<ApiError | null>(null);
  const loading = ref(false);

  async function run(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      data.value = await load();
    } catch (caught) {
      if (!(caught instanceof ApiError)) throw caught;
      error.value = caught;
    } finally {
      loading.value = false;
    }
  }

  return { data, error, loading, run };
}
