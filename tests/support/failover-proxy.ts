import { createServer, type IncomingMessage, request, type Server } from "node:http";

/**
 * The shared address in front of a trust's Handover processes, as a load balancer does it
 * (nginx's `proxy_next_upstream error`, docs/install.md "Large trusts"): each request goes to
 * the first backend that accepts the connection. A standby keeps its appservice port closed, so
 * the homeserver's transactions reach whichever process is active.
 */
export interface FailoverProxy {
  /** Requests each backend port answered. */
  answered: Map<number, number>;
  close(): Promise<void>;
}

export async function startFailoverProxy(port: number, backends: readonly number[]): Promise<FailoverProxy> {
  const answered = new Map<number, number>();
  const server: Server = createServer(async (req, res) => {
    const body = await readAll(req);
    for (const backend of backends) {
      const answer = await tryBackend(backend, req, body);
      if (!answer) continue;
      answered.set(backend, (answered.get(backend) ?? 0) + 1);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      return;
    }
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ errcode: "M_UNKNOWN", error: "no Handover process accepted the connection" }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The backend's answer, or null when it refused the connection or died before answering. */
function tryBackend(port: number, req: IncomingMessage, body: Buffer): Promise<Answer | null> {
  return new Promise((resolve) => {
    const upstream = request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: { ...req.headers, connection: "close" } }, (answer) => {
      void readAll(answer).then(
        (data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }),
        () => resolve(null),
      );
    });
    upstream.on("error", () => resolve(null));
    upstream.end(body);
  });
}
