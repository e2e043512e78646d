import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { AppService } from "matrix-appservice";
import { HandoverError } from "../domain/errors.js";
import type { TransactionIntake } from "../domain/intake/transaction-intake.js";

export interface TransactionEndpointOptions {
  hsToken: string;
  maxBodyBytes: number;
  intake: TransactionIntake;
  observeAck(seconds: number, outcome: "accepted" | "duplicate" | "rejected" | "error"): void;
  onError(error: unknown): void;
  /**
   * Runs on each transaction's body before its events are stored (the end-to-end encryption
   * device takes its to-device events, device lists and key counts); a failure answers 503, so
   * the homeserver sends the transaction again.
   */
  beforeIntake?(body: unknown): Promise<void>;
  /** Extra routes for Synapse-side callers (e.g. a Synapse module), served behind the homeserver token. */
  routes?: RequestHandler[];
}

function sameToken(provided: string, expected: string): boolean {
  const a = Buffer.from(provided);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The homeserver-facing HTTP endpoint. matrix-appservice's AppService answers the user and
 * alias queries and /health; its transaction handler acknowledges before handling and keeps
 * the last transaction id in memory only, so Handover puts its own transaction route in front:
 * it acknowledges only after the events are stored and remembers every transaction id.
 */
export class TransactionEndpoint {
  private readonly app = express();
  private server: Server | null = null;

  constructor(private readonly options: TransactionEndpointOptions) {
    const appService = new AppService({ homeserverToken: options.hsToken, httpMaxSizeBytes: options.maxBodyBytes });
    const json = express.json({ limit: options.maxBodyBytes, type: () => true });
    this.app.disable("x-powered-by");
    this.app.put("/_matrix/app/v1/transactions/:txnId", this.authorise, json, this.transaction);
    this.app.post("/_matrix/app/v1/ping", this.authorise, (_req, res) => {
      res.send({});
    });
    for (const routes of options.routes ?? []) this.app.use("/_handover", this.authorise, routes);
    this.app.use(appService.expressApp);
    this.app.use(this.bodyErrors);
  }

  private readonly authorise = (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    const provided = header?.startsWith("Bearer ") ? header.slice(7) : typeof req.query.access_token === "string" ? req.query.access_token : "";
    if (!sameToken(provided, this.options.hsToken)) {
      res.status(provided ? 403 : 401).send({ errcode: provided ? "M_FORBIDDEN" : "M_UNAUTHORIZED", error: "Bad or missing homeserver token" });
      return;
    }
    next();
  };

  private readonly transaction = (req: Request, res: Response): void => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const before = this.options.beforeIntake?.(req.body) ?? Promise.resolve();
    before
      .then(() => this.options.intake.receive(String(req.params.txnId ?? ""), req.body))
      .then(
        (result) => {
          this.options.observeAck(elapsed(), result.duplicate ? "duplicate" : "accepted");
          res.send({});
        },
        (error: unknown) => {
          if (error instanceof HandoverError) {
            this.options.observeAck(elapsed(), "rejected");
            res.status(400).send({ errcode: "M_BAD_JSON", error: error.message });
            return;
          }
          this.options.onError(error);
          this.options.observeAck(elapsed(), "error");
          // A 5xx makes the homeserver send the transaction again later: nothing is lost.
          res.status(503).send({ errcode: "M_UNKNOWN", error: "Handover could not store the transaction; retry later" });
        },
      );
  };

  /** Body-parser failures (not JSON, too large) get a Matrix error, not an HTML page. */
  private readonly bodyErrors = (error: { status?: number; type?: string; message?: string }, _req: Request, res: Response, _next: NextFunction): void => {
    const status = error.status ?? 500;
    const errcode = error.type === "entity.too.large" ? "M_TOO_LARGE" : status === 400 ? "M_NOT_JSON" : "M_UNKNOWN";
    res.status(status).send({ errcode, error: status === 400 ? "Request body is not valid JSON" : (error.message ?? "request failed") });
  };

  async start(port: number, host: string): Promise<void> {
    const server = createServer(this.app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A keep-alive connection busy with a transaction now would otherwise stay open until its
    // 65 s idle timeout once that transaction is answered: close each as soon as it is idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    await closed;
    clearInterval(sweep);
  }
}
