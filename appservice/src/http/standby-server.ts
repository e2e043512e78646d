import { createServer, type Server } from "node:http";

/**
 * What a standby Handover answers on its web port while another process is active: alive
 * (/healthz 200) but not ready (/readyz 503), so a load balancer's health check sends portal
 * users to the active process; every other request gets a 503 saying why. The appservice port
 * stays closed, so the homeserver's transactions can only reach the active process.
 */
export class StandbyServer {
  private server: Server | null = null;
  /** The port opening, if start() has not finished: stop() waits for it, or the port stays open. */
  private opening: Promise<void> | null = null;

  async start(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const [status, body] =
        path === "/healthz"
          ? [200, { status: "ok", role: "standby" }]
          : path === "/readyz"
            ? [503, { status: "not ready", role: "standby", checks: { active: false } }]
            : [503, { error: { code: "STANDBY", message: "This Handover process is on standby: another one is active" } }];
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "retry-after": "2" });
      res.end(JSON.stringify(body));
    });
    this.server = server;
    this.opening = new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    try {
      await this.opening;
    } finally {
      this.opening = null;
    }
  }

  async stop(): Promise<void> {
    await this.opening?.catch(() => undefined);
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
