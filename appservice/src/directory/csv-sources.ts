import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { Platform } from "../capability.js";
import type { DirectorySync, RunResult } from "../domain/directory/reconciler.js";
import { HandoverError } from "../domain/errors.js";
import { type CsvImporter, type CsvImportSummary, type CsvVia, sha256 } from "./csv-import.js";

const SYSTEM_ACTOR = "handover:directory";

export interface CsvSourcesDeps {
  importers: readonly CsvImporter[];
  sync: DirectorySync;
  /** Runs work under the sync job's lock, so no import or run overlaps another. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  lastImport(source: string): Promise<{ at: Date; via: CsvVia; people: number; groups: number } | null>;
  logger: Pick<Logger, "info" | "warn">;
}

export interface CsvImportOutcome {
  summary: CsvImportSummary;
  result: RunResult;
}

/**
 * CSV sources' two ways in: an upload (portal, API) and a watched file. An import replaces the
 * source's content and runs sync at once, both under the sync lock; a preview maps the file and
 * makes a dry run with it in place of the stored content, storing nothing.
 */
export class CsvSources {
  /** Content of a watched file already refused, so a broken file is reported once, not every poll. */
  private readonly refused = new Map<string, string>();

  constructor(private readonly deps: CsvSourcesDeps) {}

  find(name: string): CsvImporter {
    const importer = this.deps.importers.find((candidate) => candidate.source.name === name);
    if (!importer) throw new HandoverError("NOT_FOUND", `No CSV directory source named ${name}`);
    return importer;
  }

  async status(name: string): Promise<{ watching: string | null; lastImport: { at: string; via: CsvVia; people: number; groups: number } | null }> {
    const importer = this.find(name);
    const last = await this.deps.lastImport(name);
    return { watching: importer.source.watch?.path ?? null, lastImport: last ? { ...last, at: last.at.toISOString() } : null };
  }

  async upload(name: string, text: string, actor: string, dryRun: boolean): Promise<CsvImportOutcome> {
    const importer = this.find(name);
    if (dryRun) {
      const mapped = importer.read(text);
      const result = await this.deps.sync.run({ trigger: "csv", actor, dryRun: true, replace: importer.snapshot(mapped) });
      return { summary: importer.summary(mapped, false), result };
    }
    return this.deps.exclusive(() => this.importAndRun(importer, text, "upload", actor));
  }

  /** One poll of a watched file: imports it when its content differs from the last import. */
  async poll(importer: CsvImporter): Promise<CsvImportOutcome | null> {
    const path = importer.source.watch?.path;
    if (!path) return null;
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      this.deps.logger.warn({ err: error, source: importer.source.name, path }, "watched CSV file cannot be read; nothing imported");
      return null;
    }
    if (this.refused.get(importer.source.name) === sha256(text) || (await importer.isCurrent(text))) return null;
    return this.deps.exclusive(async () => {
      // Another process may have imported this content while we waited for the lock.
      if (await importer.isCurrent(text)) return null;
      try {
        return await this.importAndRun(importer, text, "watch", SYSTEM_ACTOR);
      } catch (error) {
        if (!(error instanceof HandoverError)) throw error;
        this.refused.set(importer.source.name, sha256(text));
        this.deps.logger.warn({ source: importer.source.name, path, problems: error.details }, error.message);
        return null;
      }
    });
  }

  /** Registers one polling job per watched file (each under its own lock name). */
  watch(jobs: Platform["jobs"]): void {
    for (const importer of this.deps.importers) {
      const watch = importer.source.watch;
      if (!watch) continue;
      jobs.register({ name: `directory-csv-${importer.source.name}`, intervalMs: watch.interval, runAtStart: true }, async () => {
        await this.poll(importer);
      });
    }
  }

  private async importAndRun(importer: CsvImporter, text: string, via: CsvVia, actor: string): Promise<CsvImportOutcome> {
    const summary = await importer.import(text, via, actor);
    this.deps.logger.info({ source: importer.source.name, via, people: summary.people, groups: summary.groups }, "CSV directory file imported");
    const result = await this.deps.sync.run({ trigger: "csv", actor });
    return { summary, result };
  }
}
