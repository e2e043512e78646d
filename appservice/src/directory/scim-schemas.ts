/** The SCIM discovery documents (RFC 7643 sections 5-7) Entra ID and Okta read before provisioning. */

export const SERVICE_PROVIDER_CONFIG = (base: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
  documentationUri: "https://github.com/handover/handover/blob/main/docs/directory.md",
  patch: { supported: true },
  bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
  filter: { supported: true, maxResults: 200 },
  changePassword: { supported: false },
  sort: { supported: false },
  etag: { supported: false },
  authenticationSchemes: [
    { type: "oauthbearertoken", name: "OAuth Bearer Token", description: "A long-lived secret token in the Authorization header", primary: true },
  ],
  meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
});

export const resourceTypes = (base: string) => [
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "User",
    name: "User",
    endpoint: "/Users",
    schema: "urn:ietf:params:scim:schemas:core:2.0:User",
    schemaExtensions: [{ schema: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", required: false }],
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    schema: "urn:ietf:params:scim:schemas:core:2.0:Group",
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
  },
];

const attribute = (name: string, type = "string", extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: "readWrite",
  returned: "default",
  uniqueness: "none",
  ...extra,
});

export const SCHEMAS_DOCUMENT = [
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: "urn:ietf:params:scim:schemas:core:2.0:User",
    name: "User",
    attributes: [
      attribute("userName", "string", { required: true, uniqueness: "server" }),
      attribute("externalId"),
      attribute("displayName"),
      attribute("title"),
      attribute("userType"),
      attribute("active", "boolean"),
      attribute("name", "complex", { subAttributes: [attribute("givenName"), attribute("familyName"), attribute("formatted")] }),
      attribute("emails", "complex", { multiValued: true, subAttributes: [attribute("value"), attribute("type"), attribute("primary", "boolean")] }),
    ],
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    name: "EnterpriseUser",
    attributes: [attribute("employeeNumber"), attribute("department"), attribute("division"), attribute("organization"), attribute("costCenter")],
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: "urn:ietf:params:scim:schemas:core:2.0:Group",
    name: "Group",
    attributes: [
      attribute("displayName", "string", { required: true, uniqueness: "server" }),
      attribute("externalId"),
      attribute("members", "complex", { multiValued: true, subAttributes: [attribute("value"), attribute("display")] }),
    ],
  },
];
