/** The crypto parts of an appservice transaction that concern one device. */
export interface TransactionCrypto {
  toDevice: Record<string, unknown>[];
  changed: string[];
  left: string[];
  oneTimeKeyCounts: Map<string, number>;
  unusedFallbackKeys: Set<string> | undefined;
}

const record = (value: unknown): Record<string, unknown> | null =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []);

/**
 * Reads what Synapse 1.160 puts in a transaction for an appservice with `receive_ephemeral` and
 * `org.matrix.msc3202`: `de.sorunome.msc2409.to_device` (MSC4203; each event carries
 * `to_user_id`/`to_device_id`), `org.matrix.msc3202.device_lists` {changed, left},
 * `org.matrix.msc3202.device_one_time_keys_count` {user: {device: {algorithm: n}}} and
 * `org.matrix.msc3202.device_unused_fallback_key_types` {user: {device: [algorithm]}}.
 * Returns null when there is nothing for the device.
 */
export function transactionCrypto(body: unknown, userId: string, deviceId: string): TransactionCrypto | null {
  const top = record(body);
  if (!top) return null;
  const rawToDevice = top["de.sorunome.msc2409.to_device"] ?? top["org.matrix.msc2409.to_device"] ?? top.to_device;
  const toDevice: Record<string, unknown>[] = [];
  for (const item of Array.isArray(rawToDevice) ? rawToDevice : []) {
    const event = record(item);
    if (!event || event.to_user_id !== userId || event.to_device_id !== deviceId) continue;
    const { to_user_id: _user, to_device_id: _device, ...rest } = event;
    toDevice.push(rest);
  }
  const lists = record(top["org.matrix.msc3202.device_lists"]) ?? record(top.device_lists) ?? {};
  const changed = strings(lists.changed);
  const left = strings(lists.left);
  const counts = record(
    record(record(top["org.matrix.msc3202.device_one_time_keys_count"] ?? top["org.matrix.msc3202.device_one_time_key_counts"])?.[userId])?.[deviceId],
  );
  const oneTimeKeyCounts = new Map<string, number>();
  for (const [algorithm, count] of Object.entries(counts ?? {})) if (typeof count === "number") oneTimeKeyCounts.set(algorithm, count);
  const fallback = record(record(top["org.matrix.msc3202.device_unused_fallback_key_types"])?.[userId])?.[deviceId];
  const unusedFallbackKeys = Array.isArray(fallback) ? new Set(strings(fallback)) : undefined;
  if (toDevice.length === 0 && changed.length === 0 && left.length === 0 && oneTimeKeyCounts.size === 0 && !unusedFallbackKeys) return null;
  return { toDevice, changed, left, oneTimeKeyCounts, unusedFallbackKeys };
}
