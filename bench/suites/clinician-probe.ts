/**
 * A clinician's client, in its own process so that nothing the bench or Handover does in its
 * event loop delays the clock: sends a message every INTERVAL ms (plain client-server API, as
 * any client's "send" is) and prints, one line each, when the send started and how long the
 * round trip took. Args: clientUrl accessToken roomId intervalMs.
 */
const [clientUrl, token, roomId, intervalText] = process.argv.slice(2) as [string, string, string, string];
const interval = Number(intervalText);
let n = 0;
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});
// The bench reads our lines; once it has gone (finished or failed), so do we.
process.stdout.on("error", () => process.exit(0));
while (!stopping) {
  const started = Date.now();
  const t0 = performance.now();
  let ok = true;
  try {
    const res = await fetch(`${clientUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/probe${process.pid}-${n++}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ msgtype: "m.text", body: `Bed ${n % 30} obs due at the hour` }),
    });
    await res.text();
    ok = res.ok;
  } catch {
    ok = false;
  }
  const ms = performance.now() - t0;
  process.stdout.write(`${started} ${ms.toFixed(2)} ${ok ? 1 : 0}\n`);
  const wait = interval - ms;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
