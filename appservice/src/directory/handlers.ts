import type { AuditRecorder } from "../domain/audit/audit-trail.js";
import type { Clock } from "../domain/clock.js";
import type { DirectorySource, SyncRule } from "../domain/directory/model.js";
import type { RuleStore, RunStore } from "../domain/directory/ports.js";
import type { DirectorySync, RunResult } from "../domain/directory/reconciler.js";
import { HandoverError } from "../domain/errors.js";
import type { DirectoryRule, Session } from "../http/contract.js";
import type { RouteHandlers } from "../http/web-server.js";
import type { CsvSources } from "./csv-sources.js";
import { resultDetail, runDetail, runView } from "./views.js";

export interface DirectoryHandlerDeps {
  /** null when no source is configured. */
  sync: DirectorySync | null;
  sources: readonly DirectorySource[];
  rules: RuleStore;
  runs: RunStore;
  audit: AuditRecorder;
  clock: Clock;
  schedule: string | null;
  limits: { maxRemovalShare: number; maxRemovals: number };
  /** Runs work under the sync job's lock, so no two runs overlap in any process. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  createRoom(name: string): Promise<string>;
  /** CSV sources' uploads; null when directory sync is not configured. */
  csv: CsvSources | null;
}

type DirectoryRoutes = Pick<
  RouteHandlers,
  | "directoryStatus"
  | "testDirectorySource"
  | "importDirectoryCsv"
  | "listDirectoryRules"
  | "putDirectoryRule"
  | "deleteDirectoryRule"
  | "createDirectoryRuleRoom"
  | "previewDirectorySync"
  | "runDirectorySync"
  | "listDirectoryRuns"
  | "getDirectoryRun"
  | "approveDirectoryRun"
  | "rejectDirectoryRun"
  | "explainDirectoryPerson"
>;

function actorOf(session: Session | null): string {
  if (!session) throw new Error("route table guarantees a session here");
  return session.userId;
}

const toRule = (rule: DirectoryRule): SyncRule => ({ ...rule, power: rule.power.map((power) => ({ ...power })) });

export function directoryHandlers(deps: DirectoryHandlerDeps): DirectoryRoutes {
  const sync = () => {
    if (!deps.sync) throw new HandoverError("CONFLICT", "Directory sync is not configured: add a source under `directory` in the config");
    return deps.sync;
  };
  const detail = async (result: RunResult, trigger: string, actor: string) => {
    if (result.runId === null) return resultDetail(result, trigger, actor, deps.clock.now());
    const run = await deps.runs.get(result.runId);
    return run ? runDetail(run, await deps.runs.actions(run.id)) : resultDetail(result, trigger, actor, deps.clock.now());
  };
  return {
    directoryStatus: async () => ({
      configured: deps.sync !== null,
      sources: await Promise.all(
        deps.sources.map(async (source) => {
          if (source.kind === "csv" && deps.csv) return { name: source.name, kind: source.kind, ...(await deps.csv.status(source.name)) };
          const last = source.lastRead ? await source.lastRead() : null;
          return { name: source.name, kind: source.kind, ...(last ? { lastRead: { ...last, at: last.at.toISOString() } } : {}) };
        }),
      ),
      schedule: deps.schedule,
      maxRemovalShare: deps.limits.maxRemovalShare,
      maxRemovals: deps.limits.maxRemovals,
      heldRunId: (await deps.runs.openHeld())?.id ?? null,
    }),
    testDirectorySource: async ({ params, session }) => {
      const source = deps.sources.find((candidate) => candidate.name === params.source);
      if (!source) throw new HandoverError("NOT_FOUND", `No directory source named ${params.source}`);
      const result = await source.test();
      await deps.audit.record({ actor: actorOf(session), action: "directory.source.tested", target: source.name, details: { ok: result.ok } });
      return result;
    },
    importDirectoryCsv: async ({ params, body, session }) => {
      if (!deps.csv) throw new HandoverError("CONFLICT", "Directory sync is not configured: add a source under `directory` in the config");
      const actor = actorOf(session);
      const { summary, result } = await deps.csv.upload(params.source, body.csv, actor, body.dryRun);
      return { import: summary, run: await detail(result, "csv", actor) };
    },
    listDirectoryRules: async () => ({ rules: await deps.rules.list() }),
    putDirectoryRule: async ({ params, body, session }) => {
      if (body.id !== params.ruleId)
        throw new HandoverError("VALIDATION_FAILED", "The rule's id must match the URL", [{ path: "id", message: "does not match the URL" }]);
      const previous = await deps.rules.get(body.id);
      const { created } = await deps.rules.save(toRule(body));
      await deps.audit.record({
        actor: actorOf(session),
        action: created ? "directory.rule.created" : "directory.rule.changed",
        target: body.id,
        details: {
          group: body.group,
          attribute: body.attribute?.name ?? null,
          rooms: body.rooms,
          joinMode: body.joinMode,
          enabled: body.enabled,
          previousRooms: previous?.rooms ?? null,
        },
      });
      return body;
    },
    deleteDirectoryRule: async ({ params, session }) => {
      if (!(await deps.rules.remove(params.ruleId))) throw new HandoverError("NOT_FOUND", `No rule ${params.ruleId}`);
      await deps.audit.record({ actor: actorOf(session), action: "directory.rule.deleted", target: params.ruleId, details: {} });
      return {};
    },
    createDirectoryRuleRoom: async ({ params, body, session }) => {
      const rule = await deps.rules.get(params.ruleId);
      if (!rule) throw new HandoverError("NOT_FOUND", `No rule ${params.ruleId}`);
      const roomId = await deps.createRoom(body.name);
      const updated = { ...rule, rooms: [...rule.rooms, roomId] };
      await deps.rules.save(updated);
      await deps.audit.record({ actor: actorOf(session), action: "directory.room.created", target: roomId, details: { rule: rule.id, name: body.name } });
      return updated as DirectoryRule;
    },
    previewDirectorySync: async ({ body, session }) => {
      let rules: SyncRule[] | undefined;
      if (body.rule) {
        const draft = toRule(body.rule);
        rules = [...(await deps.rules.list()).filter((rule) => rule.id !== draft.id), draft];
      }
      const result = await sync().run({ trigger: "manual", actor: actorOf(session), dryRun: true, ...(rules ? { rules } : {}) });
      return detail(result, "manual", actorOf(session));
    },
    runDirectorySync: async ({ body, session }) => {
      const actor = actorOf(session);
      const result = body.dryRun
        ? await sync().run({ trigger: "manual", actor, dryRun: true })
        : await deps.exclusive(() => sync().run({ trigger: "manual", actor }));
      return detail(result, "manual", actor);
    },
    listDirectoryRuns: async () => ({ runs: (await deps.runs.list(50)).map(runView) }),
    getDirectoryRun: async ({ params }) => {
      const run = await deps.runs.get(params.runId);
      if (!run) throw new HandoverError("NOT_FOUND", `No directory sync run ${params.runId}`);
      return runDetail(run, await deps.runs.actions(run.id));
    },
    approveDirectoryRun: async ({ params, session }) => {
      const result = await deps.exclusive(() => sync().approve(params.runId, actorOf(session)));
      return detail(result, "approval", actorOf(session));
    },
    rejectDirectoryRun: async ({ params, body, session }) => {
      await sync().reject(params.runId, actorOf(session), body.reason);
      const run = await deps.runs.get(params.runId);
      if (!run) throw new HandoverError("NOT_FOUND", `No directory sync run ${params.runId}`);
      return runView(run);
    },
    explainDirectoryPerson: async ({ params }) => {
      const desired = await sync().desired();
      const person = desired.people.get(params.userId);
      const rooms = [...desired.rooms]
        .filter(([, members]) => members.has(params.userId))
        .map(([roomId, members]) => {
          const member = members.get(params.userId) as NonNullable<ReturnType<typeof members.get>>;
          return {
            roomId,
            level: member.level,
            rules: [...new Set(member.reasons.map((reason) => reason.rule))],
            sources: [...new Set(member.reasons.map((reason) => reason.source))],
          };
        });
      return {
        userId: params.userId,
        inDirectory: person !== undefined || desired.disabled.has(params.userId),
        disabled: desired.disabled.has(params.userId),
        source: person?.source ?? null,
        groups: person ? [...person.groups].sort() : [],
        rooms,
      };
    },
  };
}
