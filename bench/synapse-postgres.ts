/**
 * Synapse's `database` section for a PostgreSQL database given by URL: the benches run Synapse as
 * a trust does. On SQLite (the test harness's default) every database transaction goes through one
 * connection, so writes to different rooms queue behind each other.
 */
export function synapseDatabase(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  return {
    name: "psycopg2",
    // The throwaway cluster is initialised with the machine's locale, not C.
    allow_unsafe_locale: true,
    args: {
      user: decodeURIComponent(parsed.username) || "postgres",
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      database: parsed.pathname.slice(1),
      host: parsed.hostname,
      port: Number(parsed.port || 5432),
      cp_min: 2,
      cp_max: 10,
    },
  };
}
