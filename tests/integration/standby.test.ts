import { createServer } from "node:net";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Handover } from "../../appservice/src/app.js";
import { createLogger } from "../../appservice/src/logger.js";
import { readRegistrationTokens } from "../../appservice/src/matrix/registration-file.js";
import { ActiveLease } from "../../appservice/src/storage/active-lease.js";
import { freshDatabase } from "../support/fresh-database.js";
import { configFor, migrateDatabase } from "../support/handover-instance.js";
import { eventually } from "../support/matrix-user.js";

/** A real Handover waiting as a standby (docs/install.md, "Large trusts"), the lease held by another. */
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "standby");
const logger = createLogger("silent");
const activeElsewhere = new ActiveLease({ url: databaseUrl, scope: `${trust.registration.id}@${trust.serverName}`, logger });

afterAll(async () => {
  await activeElsewhere.release();
});

async function bindable(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

describe("a Handover standby", () => {
  it("stopped while waiting, it has closed its web port by the time stop() returns", async () => {
    await migrateDatabase(databaseUrl);
    expect(await activeElsewhere.tryAcquire()).toBe(true);
    const config = await configFor(trust, databaseUrl);
    const standby = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile), { logger });
    const starting = standby.start().catch((error: unknown) => error);
    await eventually("the standby to answer its health check", async () => {
      const health = await fetch(`http://127.0.0.1:${config.web.port}/healthz`).catch(() => null);
      return health?.status === 200;
    });
    await standby.stop();
    expect(await bindable(config.web.port)).toBe(true);
    expect(await starting).toBeInstanceOf(Error);
  });
});
