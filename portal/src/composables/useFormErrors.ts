import { type Ref, ref, shallowRef } from "vue";
import { ApiError, type FieldProblem } from "../api/http";
import { markPageTitleAsError } from "../display/pageTitle";

/** One line of a form's error summary, linked to the field it is about where there is one. */
export interface FormProblem {
  text: string;
  fieldId?: string;
}

/** Which form control (its element id) shows the API's problems about each request field. */
export type FieldIds = Readonly<Record<string, string>>;

export interface FormErrorOptions {
  /** Start each field's message with the request field's name ("rooms: …"), where a message alone would not say which. */
  nameFields?: boolean;
}

/**
 * The request field a problem is about, as the form knows it. The API names fields by their path
 * in the request ("scope.roomId", "rooms.0", "rule.power.0.attribute"): the first field along it,
 * read from the outside in, that the form has a control for; a dotted name the form lists
 * ("scope.roomId") is preferred to its first part ("scope").
 */
function fieldOf(path: string, fieldIds: FieldIds): string | undefined {
  const segments = path.split(".");
  for (let start = 0; start < segments.length; start++) {
    for (let end = segments.length; end > start; end--) {
      const name = segments.slice(start, end).join(".");
      if (Object.hasOwn(fieldIds, name)) return name;
    }
  }
  return undefined;
}

/**
 * Where the API's validation problems go on a form: each control shows the first problem about
 * it; the summary lists every problem, linked to its control where it has one, and the API's
 * message when it named no field.
 */
export function formErrorsOf(error: Pick<ApiError, "message" | "details">, fieldIds: FieldIds, options: FormErrorOptions = {}) {
  const errors: Record<string, string> = {};
  const problems: FormProblem[] = error.details.map((detail: FieldProblem) => {
    const field = fieldOf(detail.path, fieldIds);
    if (field === undefined) return { text: detail.message };
    const fieldId = fieldIds[field] as string;
    const text = options.nameFields ? `${field}: ${detail.message}` : detail.message;
    errors[fieldId] ??= text;
    return { text, fieldId };
  });
  return { errors, problems: problems.length > 0 ? problems : [{ text: error.message }] };
}

export interface FormErrors {
  /** Message per form control id, for each control's own error text. */
  errors: Ref<Record<string, string>>;
  /** The error summary's lines. */
  problems: Ref<FormProblem[]>;
  clear(): void;
  /** Problems the form found itself, before asking the API: control id -> message. */
  show(fieldErrors: Record<string, string>): void;
  /** Shows an API refusal on the form; anything but an ApiError is a bug and is thrown on. */
  fail(caught: unknown): void;
}

/** A form's error state, filled from the API's validation problems (or the form's own checks). */
export function useFormErrors(fieldIds: FieldIds, options: FormErrorOptions = {}): FormErrors {
  const errors = ref<Record<string, string>>({});
  const problems = shallowRef<FormProblem[]>([]);

  function clear(): void {
    errors.value = {};
    problems.value = [];
  }

  function show(fieldErrors: Record<string, string>): void {
    errors.value = { ...fieldErrors };
    problems.value = Object.entries(fieldErrors).map(([fieldId, text]) => ({ text, fieldId }));
    markPageTitleAsError();
  }

  function fail(caught: unknown): void {
    if (!(caught instanceof ApiError)) throw caught;
    const shown = formErrorsOf(caught, fieldIds, options);
    errors.value = shown.errors;
    problems.value = shown.problems;
    markPageTitleAsError();
  }

  return { errors, problems, clear, show, fail };
}
