import type { DataSource } from "typeorm";
import type { MessageLog, StoredMessage } from "../domain/federation/ports.js";
import type { SignedMessage } from "../domain/federation/signed-message.js";

interface MessageRow {
  direction: "sent" | "received";
  signed: SignedMessage;
  at: Date;
  delivered_at: Date | null;
  last_error: string | null;
}

/** The signed messages both ways: history, replay guard and outbox in one table. */
export class PostgresMessageLog implements MessageLog {
  constructor(private readonly db: DataSource) {}

  async seen(from: string, id: string): Promise<boolean> {
    const rows = (await this.db.query("SELECT 1 FROM federation_messages WHERE direction = 'received' AND sender = $1 AND id = $2", [from, id])) as unknown[];
    return rows.length > 0;
  }

  private async insert(direction: "sent" | "received", message: SignedMessage, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO federation_messages (direction, sender, id, agreement_id, type, signed, at, delivered_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [direction, message.from, message.id, message.agreement_id, message.type, JSON.stringify(message), at, direction === "received" ? at : null],
    );
  }

  recordReceived(message: SignedMessage, at: Date): Promise<void> {
    return this.insert("received", message, at);
  }

  recordSent(message: SignedMessage, at: Date): Promise<void> {
    return this.insert("sent", message, at);
  }

  async markDelivered(id: string, at: Date): Promise<void> {
    await this.db.query("UPDATE federation_messages SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE direction = 'sent' AND id = $1", [
      id,
      at,
    ]);
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.db.query("UPDATE federation_messages SET attempts = attempts + 1, last_error = $2 WHERE direction = 'sent' AND id = $1", [id, error]);
  }

  async markSuperseded(id: string, by: string): Promise<void> {
    await this.db.query("UPDATE federation_messages SET superseded_by = $2 WHERE direction = 'sent' AND id = $1", [id, by]);
  }

  async undelivered(): Promise<SignedMessage[]> {
    const rows = (await this.db.query(
      "SELECT signed FROM federation_messages WHERE direction = 'sent' AND delivered_at IS NULL AND superseded_by IS NULL ORDER BY at LIMIT 500",
    )) as { signed: SignedMessage }[];
    return rows.map((row) => row.signed);
  }

  async undeliveredCount(agreementId: string): Promise<number> {
    const [row] = (await this.db.query(
      "SELECT count(*)::int AS n FROM federation_messages WHERE agreement_id = $1 AND direction = 'sent' AND delivered_at IS NULL AND superseded_by IS NULL",
      [agreementId],
    )) as { n: number }[];
    return row?.n ?? 0;
  }

  async history(agreementId: string): Promise<StoredMessage[]> {
    const rows = (await this.db.query(
      "SELECT direction, signed, at, delivered_at, last_error FROM federation_messages WHERE agreement_id = $1 ORDER BY at, direction",
      [agreementId],
    )) as MessageRow[];
    return rows.map((row) => ({ message: row.signed, direction: row.direction, at: row.at, deliveredAt: row.delivered_at, lastError: row.last_error }));
  }
}
