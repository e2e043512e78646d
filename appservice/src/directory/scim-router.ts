import { randomUUID, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { z } from "zod";
import type { AuditRecorder } from "../domain/audit/audit-trail.js";
import { HandoverError } from "../domain/errors.js";
import type { PostgresPushedDirectoryStore, PushedGroup, PushedPerson } from "../storage/directory-pushed-store.js";
import { patchGroup, patchUser, ScimPathRefused, scimBoolean } from "./scim-patch.js";
import { resourceTypes, SCHEMAS_DOCUMENT, SERVICE_PROVIDER_CONFIG } from "./scim-schemas.js";

const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const MAX_PAGE = 200;

export interface ScimOptions {
  source: string;
  bearerToken: string;
  store: PostgresPushedDirectoryStore;
  audit: AuditRecorder;
  /** A change arrived: a sync run should follow soon. */
  changed(): void;
}

const userBody = z.looseObject({ userName: z.string().min(1).max(255), externalId: z.string().max(255).optional(), active: z.unknown().optional() });
const groupBody = z.looseObject({
  displayName: z.string().min(1).max(255),
  externalId: z.string().max(255).optional(),
  members: z.array(z.looseObject({ value: z.string() })).optional(),
});
const patchBody = z.looseObject({
  schemas: z.array(z.string()).refine((schemas) => schemas.includes(PATCH_SCHEMA), { message: `expected ${PATCH_SCHEMA}` }),
  Operations: z.array(z.looseObject({ op: z.string(), path: z.string().optional(), value: z.unknown().optional() })).min(1),
});

class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new ScimError(400, result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; "), "invalidValue");
  return result.data;
}

/** Entra and Okta look resources up with `filter=userName eq "x"` (and externalId, displayName). */
function parseFilter(filter: unknown, allowed: readonly string[]): Record<string, string> {
  if (filter === undefined || filter === "") return {};
  const match = /^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(String(filter));
  if (!match || !allowed.some((name) => name.toLowerCase() === (match[1] as string).toLowerCase())) {
    throw new ScimError(400, `Unsupported filter; supported: ${allowed.map((name) => `${name} eq "..."`).join(", ")}`, "invalidFilter");
  }
  const name = allowed.find((candidate) => candidate.toLowerCase() === (match[1] as string).toLowerCase()) as string;
  return { [name]: (match[2] as string).replace(/\\(.)/g, "$1") };
}

function paging(query: Request["query"]): { offset: number; count: number; startIndex: number } {
  const startIndex = Math.max(1, Number.parseInt(String(query.startIndex ?? "1"), 10) || 1);
  const count = Math.min(MAX_PAGE, Math.max(0, Number.parseInt(String(query.count ?? String(MAX_PAGE)), 10) || 0));
  return { offset: startIndex - 1, count, startIndex };
}

/**
 * SCIM 2.0 service provider (RFC 7643/7644) for Entra ID and Okta provisioning, mounted at
 * /scim/v2 on the web listener: Users and Groups with filters, PATCH, PUT and DELETE;
 * `active=false` disables a person. Each change is audited and soon followed by a sync run.
 */
export function scimRouter(options: ScimOptions): Router {
  const router = express.Router();
  const base = (req: Request) => `${req.protocol}://${req.get("host")}${req.baseUrl}`;
  const token = Buffer.from(options.bearerToken);
  const { store, source } = options;

  router.use((req, _res, next) => {
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    if (given.length !== token.length || !timingSafeEqual(given, token)) return next(new ScimError(401, "Bearer token missing or wrong"));
    next();
  });
  router.use(express.json({ type: ["application/json", "application/scim+json"], limit: "1mb" }));

  const user = (req: Request, person: PushedPerson) => ({
    ...person.resource,
    schemas: [...new Set([USER_SCHEMA, ...((person.resource.schemas as string[] | undefined) ?? [])])],
    id: person.id,
    userName: person.userName,
    ...(person.externalId ? { externalId: person.externalId } : {}),
    active: person.active,
    meta: {
      resourceType: "User",
      created: person.created.toISOString(),
      lastModified: person.updated.toISOString(),
      location: `${base(req)}/Users/${person.id}`,
    },
  });
  const group = (req: Request, found: PushedGroup, withMembers = true) => ({
    schemas: [GROUP_SCHEMA],
    id: found.id,
    displayName: found.displayName,
    ...(found.externalId ? { externalId: found.externalId } : {}),
    ...(withMembers ? { members: found.memberIds.map((id) => ({ value: id })) } : {}),
    meta: {
      resourceType: "Group",
      created: found.created.toISOString(),
      lastModified: found.updated.toISOString(),
      location: `${base(req)}/Groups/${found.id}`,
    },
  });
  const send = (res: Response, status: number, body: unknown) => res.status(status).type("application/scim+json").send(JSON.stringify(body));
  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };
  const changed = async (action: string, target: string, details: Record<string, unknown>) => {
    await options.audit.record({ actor: `scim:${source}`, action, target, details: { source, ...details } });
    options.changed();
  };
  const toStored = (body: z.infer<typeof userBody>, id: string) => {
    const active = scimBoolean(body.active ?? true);
    if (typeof active !== "boolean") throw new ScimError(400, "active must be a boolean", "invalidValue");
    const { id: _ignored, meta: _meta, ...resource } = body as Record<string, unknown>;
    return { id, userName: body.userName, externalId: body.externalId ?? null, active, resource };
  };
  const existingUser = async (id: string) => {
    const person = await store.getPerson(source, String(id));
    if (!person) throw new ScimError(404, `User ${id} not found`);
    return person;
  };
  const existingGroup = async (id: string) => {
    const found = await store.getGroup(source, String(id));
    if (!found) throw new ScimError(404, `Group ${id} not found`);
    return found;
  };

  router.get("/ServiceProviderConfig", (req, res) => send(res, 200, SERVICE_PROVIDER_CONFIG(base(req))));
  router.get("/ResourceTypes", (req, res) =>
    send(res, 200, { schemas: [LIST_SCHEMA], totalResults: 2, itemsPerPage: 2, startIndex: 1, Resources: resourceTypes(base(req)) }),
  );
  router.get("/Schemas", (_req, res) =>
    send(res, 200, {
      schemas: [LIST_SCHEMA],
      totalResults: SCHEMAS_DOCUMENT.length,
      itemsPerPage: SCHEMAS_DOCUMENT.length,
      startIndex: 1,
      Resources: SCHEMAS_DOCUMENT,
    }),
  );

  router.get(
    "/Users",
    route(async (req, res) => {
      const filter = parseFilter(req.query.filter, ["userName", "externalId"]);
      const page = paging(req.query);
      const { total, people } = await store.listPeople(source, filter, page.offset, page.count);
      send(res, 200, {
        schemas: [LIST_SCHEMA],
        totalResults: total,
        itemsPerPage: people.length,
        startIndex: page.startIndex,
        Resources: people.map((person) => user(req, person)),
      });
    }),
  );
  router.get(
    "/Users/:id",
    route(async (req, res) => {
      send(res, 200, user(req, await existingUser(String(req.params.id))));
    }),
  );
  router.post(
    "/Users",
    route(async (req, res) => {
      const stored = toStored(parse(userBody, req.body), randomUUID());
      const person = await store.putPerson(source, stored, "create");
      await changed("directory.scim.user.created", person.id, { active: person.active });
      send(res, 201, user(req, person));
    }),
  );
  router.put(
    "/Users/:id",
    route(async (req, res) => {
      const existing = await existingUser(String(req.params.id));
      const person = await store.putPerson(source, toStored(parse(userBody, req.body), existing.id), "update");
      await changed("directory.scim.user.replaced", person.id, { active: person.active, wasActive: existing.active });
      send(res, 200, user(req, person));
    }),
  );
  router.patch(
    "/Users/:id",
    route(async (req, res) => {
      const existing = await existingUser(String(req.params.id));
      const { Operations } = parse(patchBody, req.body);
      const current = {
        ...existing.resource,
        userName: existing.userName,
        active: existing.active,
        ...(existing.externalId ? { externalId: existing.externalId } : {}),
      };
      const patched = patchUser(current, Operations);
      const person = await store.putPerson(source, toStored(parse(userBody, patched), existing.id), "update");
      await changed("directory.scim.user.patched", person.id, { active: person.active, wasActive: existing.active });
      send(res, 200, user(req, person));
    }),
  );
  router.delete(
    "/Users/:id",
    route(async (req, res) => {
      if (!(await store.deletePerson(source, String(req.params.id)))) throw new ScimError(404, `User ${req.params.id} not found`);
      await changed("directory.scim.user.deleted", String(req.params.id), {});
      res.status(204).end();
    }),
  );

  router.get(
    "/Groups",
    route(async (req, res) => {
      const filter = parseFilter(req.query.filter, ["displayName", "externalId"]);
      const page = paging(req.query);
      const withMembers = !String(req.query.excludedAttributes ?? "")
        .split(",")
        .includes("members");
      const { total, groups } = await store.listGroups(source, filter, page.offset, page.count);
      send(res, 200, {
        schemas: [LIST_SCHEMA],
        totalResults: total,
        itemsPerPage: groups.length,
        startIndex: page.startIndex,
        Resources: groups.map((found) => group(req, found, withMembers)),
      });
    }),
  );
  router.get(
    "/Groups/:id",
    route(async (req, res) => {
      const withMembers = !String(req.query.excludedAttributes ?? "")
        .split(",")
        .includes("members");
      send(res, 200, group(req, await existingGroup(String(req.params.id)), withMembers));
    }),
  );
  router.post(
    "/Groups",
    route(async (req, res) => {
      const body = parse(groupBody, req.body);
      const created = await store.putGroup(
        source,
        { id: randomUUID(), displayName: body.displayName, externalId: body.externalId ?? null, memberIds: (body.members ?? []).map((member) => member.value) },
        "create",
      );
      await changed("directory.scim.group.created", created.id, { members: created.memberIds.length });
      send(res, 201, group(req, created));
    }),
  );
  router.put(
    "/Groups/:id",
    route(async (req, res) => {
      const existing = await existingGroup(String(req.params.id));
      const body = parse(groupBody, req.body);
      const updated = await store.putGroup(
        source,
        {
          id: existing.id,
          displayName: body.displayName,
          externalId: body.externalId ?? existing.externalId,
          memberIds: (body.members ?? []).map((member) => member.value),
        },
        "update",
      );
      await changed("directory.scim.group.replaced", updated.id, { members: updated.memberIds.length });
      send(res, 200, group(req, updated));
    }),
  );
  router.patch(
    "/Groups/:id",
    route(async (req, res) => {
      const existing = await existingGroup(String(req.params.id));
      const { Operations } = parse(patchBody, req.body);
      const next = patchGroup(existing, Operations);
      const updated = await store.putGroup(source, { id: existing.id, externalId: existing.externalId, ...next }, "update");
      await changed("directory.scim.group.patched", updated.id, {
        added: next.memberIds.filter((id) => !existing.memberIds.includes(id)).length,
        removed: existing.memberIds.filter((id) => !next.memberIds.includes(id)).length,
      });
      // Entra accepts 204 for a group PATCH; Okta expects the resource: both accept 200 with it.
      send(res, 200, group(req, updated));
    }),
  );
  router.delete(
    "/Groups/:id",
    route(async (req, res) => {
      if (!(await store.deleteGroup(source, String(req.params.id)))) throw new ScimError(404, `Group ${req.params.id} not found`);
      await changed("directory.scim.group.deleted", String(req.params.id), {});
      res.status(204).end();
    }),
  );

  router.use((_req, _res, next) => next(new ScimError(404, "No such SCIM endpoint")));
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const scim =
      error instanceof ScimError
        ? error
        : error instanceof ScimPathRefused
          ? new ScimError(400, error.message, error.scimType)
          : error instanceof HandoverError
            ? new ScimError(
                error.code === "CONFLICT" ? 409 : error.code === "NOT_FOUND" ? 404 : error.code === "VALIDATION_FAILED" ? 400 : 500,
                error.message,
                error.code === "CONFLICT" ? "uniqueness" : error.code === "VALIDATION_FAILED" ? "invalidValue" : undefined,
              )
            : (error as { type?: string }).type === "entity.parse.failed"
              ? new ScimError(400, "Request body is not valid JSON", "invalidSyntax")
              : new ScimError(500, "Something went wrong in Handover; the error has been logged");
    send(res, scim.status, {
      schemas: [ERROR_SCHEMA],
      status: String(scim.status),
      ...(scim.scimType ? { scimType: scim.scimType } : {}),
      detail: scim.message,
    });
  });
  return router;
}
