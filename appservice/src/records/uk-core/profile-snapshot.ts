import type { ElementDefinition, StructureDefinition } from "@medplum/fhirtypes";

/** Finds the snapshot of a base type or resource by its name (`Identifier`, `Extension`, `Patient`). */
export type BaseSnapshots = (typeName: string) => ElementDefinition[] | undefined;

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf(".") + 1);
}

function rebase(element: ElementDefinition, fromId: string, toId: string, fromPath: string, toPath: string): ElementDefinition {
  const copy = structuredClone(element);
  copy.id = toId + (element.id ?? "").slice(fromId.length);
  copy.path = toPath + (element.path ?? "").slice(fromPath.length);
  return copy;
}

/** The element and everything under it (its children and slices), as indexes into `elements`. */
function subtreeEnd(elements: ElementDefinition[], index: number): number {
  const id = elements[index]?.id ?? "";
  let end = index + 1;
  while (end < elements.length && ((elements[end]?.id ?? "").startsWith(`${id}.`) || (elements[end]?.id ?? "").startsWith(`${id}:`))) end++;
  return end;
}

/**
 * Unfolds a complex-typed element that has no children yet: its data type's elements are copied
 * under it, as a snapshot generator does before a profile can constrain (or slice) a child.
 */
function unfold(elements: ElementDefinition[], index: number, base: BaseSnapshots): boolean {
  const parent = elements[index] as ElementDefinition;
  const typeName = parent.type?.length === 1 ? parent.type[0]?.code : undefined;
  const typeElements = typeName ? base(typeName) : undefined;
  if (!typeName || !typeElements) return false;
  const children = typeElements.slice(1).map((element) => rebase(element, typeName, parent.id ?? "", typeName, parent.path ?? ""));
  elements.splice(index + 1, 0, ...children);
  return true;
}

function locate(elements: ElementDefinition[], id: string, base: BaseSnapshots): number {
  const found = elements.findIndex((element) => element.id === id);
  if (found !== -1) return found;
  const colon = id.lastIndexOf(":");
  const dot = id.lastIndexOf(".");
  if (colon > dot) {
    // A new slice: a copy of the sliced element (and what is under it), after its existing slices.
    const slicedId = id.slice(0, colon);
    const sliced = locate(elements, slicedId, base);
    const end = subtreeEnd(elements, sliced);
    const copies = elements.slice(sliced, end).filter((element) => !(element.id ?? "").slice(slicedId.length).includes(":"));
    const slice = copies.map((element) => rebase(element, slicedId, id, elements[sliced]?.path ?? "", elements[sliced]?.path ?? ""));
    if (slice[0]) delete slice[0].slicing;
    elements.splice(end, 0, ...slice);
    return end;
  }
  const parent = locate(elements, id.slice(0, dot), base);
  const hasChildren = (elements[parent + 1]?.id ?? "").startsWith(`${elements[parent]?.id}.`);
  if (!hasChildren && unfold(elements, parent, base)) return locate(elements, id, base);
  throw new Error(`cannot place differential element ${id} (no ${lastSegment(id)} under ${elements[parent]?.id})`);
}

/**
 * A profile's snapshot from its differential and its base's snapshot: each differential element
 * is found by id (unfolding data types and copying sliced elements where needed) and its
 * constraints laid over the base's. Constraints add to the base's invariants; everything else
 * the differential states replaces the base's value.
 */
export function generateSnapshot(profile: StructureDefinition, baseElements: ElementDefinition[], base: BaseSnapshots): ElementDefinition[] {
  const elements = baseElements.map((element) => structuredClone(element));
  for (const differential of profile.differential?.element ?? []) {
    const id = differential.id ?? differential.path;
    const index = locate(elements, id, base);
    const merged = { ...(elements[index] as ElementDefinition) } as Record<string, unknown>;
    for (const [key, value] of Object.entries(differential)) {
      if (key === "id" || key === "path") continue;
      merged[key] = key === "constraint" ? [...((merged.constraint as unknown[]) ?? []), ...(value as unknown[])] : structuredClone(value);
    }
    elements[index] = merged as unknown as ElementDefinition;
  }
  return elements;
}
