import { createHash } from "node:crypto";
import type { CsvSourceConfig } from "../config/directory.js";
import type { AuditRecorder } from "../domain/audit/audit-trail.js";
import type { Clock } from "../domain/clock.js";
import { CsvError, type CsvProblem, parseCsv } from "../domain/directory/csv.js";
import { type CsvColumnMapping, CsvMappingError, type MappedDirectory, mapEsrTable } from "../domain/directory/esr-mapping.js";
import type { DirectorySnapshot } from "../domain/directory/model.js";
import { HandoverError } from "../domain/errors.js";
import type { PostgresCsvImportStore } from "../storage/directory-csv-store.js";
import type { PostgresPushedDirectoryStore } from "../storage/directory-pushed-store.js";
import { pushedSnapshot } from "./pushed-source.js";

export type CsvVia = "upload" | "watch";

export interface CsvImportSummary {
  source: string;
  rows: number;
  people: number;
  groups: number;
  leavers: number;
  notStarted: number;
  /** False for a preview: nothing was stored. */
  stored: boolean;
}

export interface CsvImporterDeps {
  store: PostgresPushedDirectoryStore;
  imports: PostgresCsvImportStore;
  audit: AuditRecorder;
  clock: Clock;
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export function mappingOf(source: CsvSourceConfig): CsvColumnMapping {
  return {
    id: source.columns.id,
    username: source.columns.username,
    mail: source.columns.mail,
    attributes: source.columns.attributes,
    assignmentStart: source.columns.assignmentStart ?? undefined,
    assignmentEnd: source.columns.assignmentEnd ?? undefined,
    groups: source.groups,
  };
}

const location = (problem: CsvProblem) => (problem.column > 0 ? `line ${problem.line}, column ${problem.column}` : `line ${problem.line}`);

/**
 * One CSV source's imports: a file is read and mapped whole, and either replaces everything the
 * source held (people, groups) at once or is refused with every problem named by line and
 * column, changing nothing. Sync runs then see it like any other pushed source.
 */
export class CsvImporter {
  private readonly mapping: CsvColumnMapping;

  constructor(
    readonly source: CsvSourceConfig,
    private readonly deps: CsvImporterDeps,
  ) {
    this.mapping = mappingOf(source);
  }

  /** Reads and maps a file; HandoverError VALIDATION_FAILED (with line/column details) when it cannot. */
  read(text: string): MappedDirectory {
    try {
      return mapEsrTable(parseCsv(text), this.mapping, this.deps.clock.now());
    } catch (error) {
      if (!(error instanceof CsvError || error instanceof CsvMappingError)) throw error;
      const [first] = error.problems;
      throw new HandoverError(
        "VALIDATION_FAILED",
        `The CSV file for ${this.source.name} was refused and nothing changed: ${first ? `${location(first)}: ${first.message}` : "unreadable"}${
          error.problems.length > 1 ? ` (and ${error.problems.length - 1} more)` : ""
        }`,
        error.problems.map((problem) => ({ path: location(problem), message: problem.message })),
      );
    }
  }

  snapshot(mapped: MappedDirectory): DirectorySnapshot {
    return pushedSnapshot(this.source.name, "csv", mapped.people, mapped.groups);
  }

  summary(mapped: MappedDirectory, stored: boolean): CsvImportSummary {
    return {
      source: this.source.name,
      rows: mapped.rows,
      people: mapped.people.length,
      groups: mapped.groups.length,
      leavers: mapped.leavers,
      notStarted: mapped.notStarted,
      stored,
    };
  }

  /** True when this content is what the source last imported. */
  async isCurrent(text: string): Promise<boolean> {
    return (await this.deps.imports.last(this.source.name))?.sha256 === sha256(text);
  }

  /** Replaces the source's people and groups with the file's; refused files change nothing (audited). */
  async import(text: string, via: CsvVia, actor: string): Promise<CsvImportSummary> {
    let mapped: MappedDirectory;
    try {
      mapped = this.read(text);
    } catch (error) {
      if (error instanceof HandoverError) {
        await this.deps.audit.record({
          actor,
          action: "directory.csv.refused",
          target: this.source.name,
          details: { via, problems: error.details?.length ?? 1, first: error.details?.[0]?.path ?? null },
        });
      }
      throw error;
    }
    await this.deps.store.replaceAll(this.source.name, mapped.people, mapped.groups);
    const hash = sha256(text);
    await this.deps.imports.record({ source: this.source.name, sha256: hash, via, actor, people: mapped.people.length, groups: mapped.groups.length });
    const summary = this.summary(mapped, true);
    await this.deps.audit.record({
      actor,
      action: "directory.csv.imported",
      target: this.source.name,
      details: { via, rows: summary.rows, people: summary.people, groups: summary.groups, leavers: summary.leavers, sha256: hash.slice(0, 16) },
    });
    return summary;
  }
}
