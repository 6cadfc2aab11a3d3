import { SesameError } from '../errors.ts';
import { EMAIL, parseTags, USERNAME } from '../services/validate.ts';
import type { Tags } from '../store/index.ts';

/** Which claim (OIDC) or attribute (SAML) gives what. Claim values may be strings, numbers or lists. */
export type AttributeMapping = {
  /** The user name; SAML falls back to the NameID, OIDC to `sub`. */
  username: string;
  email: string;
  groups: string;
  /** Principal tag key → claim or attribute name. */
  tags: Record<string, string>;
  /** Every attribute whose name starts with this becomes a tag named by the rest (AWS `…PrincipalTag:X`). */
  tagPrefix: string | null;
  /** Seconds (AWS `SessionDuration`); caps the sign-in session. */
  sessionDuration: string | null;
};

export const AWS_SAML = 'https://aws.amazon.com/SAML/Attributes/';

export const DEFAULT_MAPPING = {
  oidc: {
    username: 'preferred_username',
    email: 'email',
    groups: 'groups',
    tags: {},
    tagPrefix: null,
    sessionDuration: null,
  },
  saml: {
    username: `${AWS_SAML}RoleSessionName`,
    email: 'email',
    groups: 'groups',
    tags: {},
    tagPrefix: `${AWS_SAML}PrincipalTag:`,
    sessionDuration: `${AWS_SAML}SessionDuration`,
  },
} as const satisfies Record<string, AttributeMapping>;

export type MappedIdentity = {
  username: string;
  /** Null when the IdP sends none; undefined when it sends one it says is unverified (Sesame keeps its own). */
  email: string | null | undefined;
  groups: string[];
  tags: Tags;
  maxDurationMs: number | undefined;
};

type Claims = Record<string, unknown>;

function values(claims: Claims, name: string): string[] {
  const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list
    .filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(String);
}

const first = (claims: Claims, name: string) => values(claims, name)[0];

/**
 * Turns what the identity provider said into who the person is in Sesame. The user name is lower-cased and
 * checked like any other; tags go through the same validation as tags an administrator sets.
 */
export function mapIdentity(claims: Claims, mapping: AttributeMapping, fallbackName: string): MappedIdentity {
  const raw = (first(claims, mapping.username) ?? fallbackName).trim();
  // An email-shaped name keeps its local part: user names appear in session ids and ${aws:username}.
  const username = (raw.includes('@') ? raw.slice(0, raw.indexOf('@')) : raw).toLowerCase();
  if (!USERNAME.test(username))
    throw new SesameError(
      'FORBIDDEN',
      // Not quoted: this message reaches the sign-in page, and a SAML response can be posted from any site.
      `the identity provider's user name (from "${mapping.username}") cannot be a Sesame user name: letters, digits, ".", "_" or "-" only. Ask an administrator to fix the attribute mapping.`,
    );
  const tags: Record<string, string> = {};
  // A tag holds one value (as an AWS session tag does): keeping one of several would decide access on a
  // value the identity provider did not single out, so the sign-in is refused with the attribute named.
  const tagValue = (name: string) => {
    const all = values(claims, name);
    if (all.length > 1)
      throw new SesameError(
        'FORBIDDEN',
        `the identity provider sent ${all.length} values for "${name}", which becomes a principal tag and holds one value. Ask an administrator to fix the attribute at the identity provider.`,
      );
    return all[0];
  };
  if (mapping.tagPrefix) {
    for (const name of Object.keys(claims)) {
      if (name.startsWith(mapping.tagPrefix) && name.length > mapping.tagPrefix.length) {
        const value = tagValue(name);
        if (value !== undefined) tags[name.slice(mapping.tagPrefix.length)] = value;
      }
    }
  }
  for (const [tag, name] of Object.entries(mapping.tags)) {
    const value = tagValue(name);
    if (value !== undefined) tags[tag] = value;
  }
  const seconds = mapping.sessionDuration ? Number(first(claims, mapping.sessionDuration)) : Number.NaN;
  const email = first(claims, mapping.email);
  // An OIDC provider that says the address is not verified (anyone may have typed it there) is not believed.
  const unverified = claims.email_verified === false || claims.email_verified === 'false';
  return {
    username,
    email: unverified ? undefined : email && EMAIL.test(email) ? email : null,
    groups: [...new Set(values(claims, mapping.groups))],
    tags: parseTags(tags, 'tags from the identity provider'),
    maxDurationMs: Number.isFinite(seconds) && seconds >= 900 ? Math.min(seconds, 43_200) * 1000 : undefined,
  };
}
