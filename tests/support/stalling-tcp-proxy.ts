import { connect, createServer, type Socket } from "node:net";

/**
 * A loopback TCP proxy whose open connections can be made to go silent without closing: what a
 * database host that vanished (a failover moving its address, a firewall dropping the flow's
 * state) does to a client's connection. New connections are forwarded as before.
 */
export interface StallingTcpProxy {
  port: number;
  /** Every connection open now stops carrying bytes either way, and is never closed. */
  stallOpenConnections(): void;
  close(): Promise<void>;
}

export async function startStallingTcpProxy(targetPort: number): Promise<StallingTcpProxy> {
  const open = new Set<{ client: Socket; upstream: Socket }>();
  const stalled: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const forget = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", forget).on("close", forget);
    upstream.on("error", forget).on("close", forget);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no port");
  return {
    port: address.port,
    stallOpenConnections() {
      for (const { client, upstream } of open) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        stalled.push(client, upstream);
      }
      open.clear();
    },
    async close() {
      for (const socket of stalled) socket.destroy();
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
