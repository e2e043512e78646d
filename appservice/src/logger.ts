import { type Logger, pino } from "pino";

/** JSON logs. Message bodies never reach a log line: these paths are removed if they appear. */
export function createLogger(level: string, name = "handover"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ["content", "*.content", "body", "*.body", "event.content", "password", "*.password", "accessToken", "*.accessToken"],
      censor: "[removed]",
    },
  });
}
