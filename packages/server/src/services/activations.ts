import { createPublicKey, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { tagRequestContext } from '@sesame/policy';
import { type ArnSettings, instanceArn, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { constantTimeEqual, hashToken, randomHex, randomToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Activation, Instance, Inventory, Store } from '../store/index.ts';
import { onlyFields, optionalInt, optionalString, parseTags } from './validate.ts';

type Deps = {
  /** Told about every newly registered instance (the instance catalog). */
  onRegistered?: (instanceId: string) => Promise<void>;
  store: Pick<
    Store,
    | 'createActivation'
    | 'getActivation'
    | 'listActivations'
    | 'deleteActivation'
    | 'registerInstance'
    | 'findInstanceByPublicKey'
  >;
  guard: Guard;
  audit: Audit;
  arn: ArnSettings;
  now?: () => number;
};

export type PublicActivation = Omit<Activation, 'codeHash'> & { expired: boolean };

const HOUR = 3_600_000;

function toPublic(activation: Activation, now: number): PublicActivation {
  const { codeHash: _hidden, ...rest } = activation;
  return { ...rest, expired: activation.expiresAt <= now };
}

/** An Ed25519 public key as base64 of its DER SubjectPublicKeyInfo. */
export function parseAgentPublicKey(value: unknown): string {
  let type: string | undefined;
  if (typeof value === 'string' && value.length <= 200) {
    try {
      type = createPublicKey({
        key: Buffer.from(value, 'base64'),
        format: 'der',
        type: 'spki',
      }).asymmetricKeyType;
    } catch {
      type = undefined;
    }
  }
  if (type !== 'ed25519') {
    const got = type ? `a key of type ${type}` : 'something that is not a public key';
    throw new SesameError(
      'INVALID',
      `publicKey must be an Ed25519 public key, base64 of its DER SubjectPublicKeyInfo (got ${got}); register with \`sesame-agent register\`, which generates one`,
    );
  }
  // One spelling per key (base64 decoding forgives missing padding, url-safe letters and spaces), so that one key
  // cannot pass for two.
  return createPublicKey({ key: Buffer.from(value as string, 'base64'), format: 'der', type: 'spki' })
    .export({ format: 'der', type: 'spki' })
    .toString('base64');
}

/**
 * Characters an agent may not put in its inventory: C0 and C1 controls and DEL (escape sequences reach the
 * terminals of everyone who lists instances), and the bidirectional overrides and isolates (they make a name
 * read as another).
 */
const UNPRINTABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** `at` for a message: the character's code point and position, e.g. "U+001B at position 3". */
function describeUnprintable(value: string): string {
  const index = value.search(UNPRINTABLE);
  const code = (value.codePointAt(index) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `U+${code} at position ${index}`;
}

/** What an agent says about its server (at registration and in each hello), checked field by field. */
export function parseInventory(value: unknown): Inventory {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const text = (name: string, max: number) => {
    const s = v[name];
    if (typeof s !== 'string' || s.length === 0 || s.length > max)
      throw new SesameError('INVALID', `inventory.${name} must be a string of 1-${max} characters`);
    if (UNPRINTABLE.test(s))
      throw new SesameError(
        'INVALID',
        `inventory.${name} must not contain control or bidirectional-override characters (found ${describeUnprintable(s)})`,
      );
    return s;
  };
  const ips = v.ipAddresses;
  if (!Array.isArray(ips) || ips.length > 64)
    throw new SesameError('INVALID', 'inventory.ipAddresses must be a list of at most 64 IP addresses');
  ips.forEach((ip, i) => {
    if (typeof ip !== 'string' || isIP(ip) === 0)
      throw new SesameError(
        'INVALID',
        `inventory.ipAddresses[${i}] must be an IPv4 or IPv6 address (got ${JSON.stringify(ip)?.slice(0, 80)})`,
      );
  });
  return {
    hostname: text('hostname', 255),
    platform: text('platform', 64),
    platformVersion: text('platformVersion', 128),
    ipAddresses: ips as string[],
    agentVersion: text('agentVersion', 64),
  };
}

export function createActivationService({ store, guard, audit, arn, onRegistered, now = Date.now }: Deps) {
  const activationArn = (id: string) => serverArn(arn, 'activation', id);

  return {
    async create(principal: Principal, input: Record<string, unknown>) {
      // The default tags land on every instance the activation registers: judged as tagging on create (AWS's
      // aws:RequestTag/* and aws:TagKeys on CreateActivation, so an Allow that asks for a request tag can be met)
      // and as tagging those instances, so a Deny on a tag key (the ABAC ones) holds here too.
      const defaultTags = parseTags(input.defaultTags, 'defaultTags');
      const tagging = tagRequestContext(defaultTags);
      guard(principal, 'ssm:CreateActivation', activationArn('*'), tagging);
      onlyFields(input, [
        'description',
        'instanceKind',
        'registrationLimit',
        'expiresInHours',
        'defaultTags',
        'defaultInstanceName',
      ]);
      const instanceKind = input.instanceKind ?? 'managed';
      if (instanceKind !== 'ec2' && instanceKind !== 'managed')
        throw new SesameError('INVALID', 'instanceKind must be "ec2" or "managed"');
      if (Object.keys(defaultTags).length > 0)
        guard(principal, 'ssm:AddTagsToResource', instanceArn(arn, { id: '*', kind: instanceKind }), tagging);
      const code = randomToken('', 20);
      const created = now();
      const activation: Activation = {
        id: randomUUID(),
        codeHash: hashToken(code),
        description: optionalString(input.description, 'description', 256) ?? '',
        instanceKind,
        registrationLimit: optionalInt(input.registrationLimit, 'registrationLimit', 1, 10_000, 1),
        registrationsCount: 0,
        expiresAt: created + optionalInt(input.expiresInHours, 'expiresInHours', 1, 720, 24) * HOUR,
        defaultTags,
        defaultInstanceName: optionalString(input.defaultInstanceName, 'defaultInstanceName', 255) ?? null,
        createdBy: principal.username,
        createdAt: created,
      };
      await store.createActivation(activation);
      await audit({
        actor: principal,
        action: 'ssm:CreateActivation',
        resource: activationArn(activation.id),
        outcome: 'succeeded',
      });
      return { activation: toPublic(activation, created), code };
    },

    async list(principal: Principal): Promise<PublicActivation[]> {
      guard(principal, 'ssm:DescribeActivations', activationArn('*'));
      const t = now();
      return (await store.listActivations()).map((a) => toPublic(a, t));
    },

    async remove(principal: Principal, id: string): Promise<void> {
      guard(principal, 'ssm:DeleteActivation', activationArn(id));
      if (!(await store.deleteActivation(id))) throw new SesameError('NOT_FOUND', `no activation ${id}`);
      await audit({
        actor: principal,
        action: 'ssm:DeleteActivation',
        resource: activationArn(id),
        outcome: 'succeeded',
      });
    },

    /** An agent registers with an activation id + code; the code is checked in constant time against its hash. */
    async register(input: Record<string, unknown>, sourceAddress: string | null): Promise<Instance> {
      const id = typeof input.activationId === 'string' ? input.activationId.slice(0, 64) : '';
      const code = typeof input.activationCode === 'string' ? input.activationCode.slice(0, 128) : '';
      let hostname: string | undefined; // known once the inventory parsed
      const failed = async (
        reason: string,
        message: string,
        errorCode: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'INVALID' | 'CONFLICT' = 'UNAUTHENTICATED',
      ): Promise<never> => {
        await audit({
          actor: 'agent',
          action: 'ssm:RegisterInstance',
          resource: activationArn(id || '*'),
          outcome: 'failed',
          sourceAddress,
          detail: { reason, ...(hostname === undefined ? {} : { hostname }) },
        });
        throw new SesameError(errorCode, message);
      };
      let publicKey: string;
      let inventory: Inventory;
      try {
        for (const field of ['activationId', 'activationCode'])
          if (typeof input[field] !== 'string' || input[field] === '')
            throw new Error(
              `${field} is required (a string): the value printed when the activation was created`,
            );
        publicKey = parseAgentPublicKey(input.publicKey);
        inventory = parseInventory(input.inventory);
      } catch (error) {
        const message = (error as Error).message;
        return failed(`invalid request: ${message}`, message, 'INVALID');
      }
      hostname = inventory.hostname;
      const activation = id ? await store.getActivation(id) : undefined;
      if (!activation || !constantTimeEqual(activation.codeHash, hashToken(code))) {
        return failed(
          'bad activation',
          'the activation id or code is wrong: check both values printed when the activation was created',
        );
      }
      // An agent whose answer was lost on the way asks again with the same key: it gets its instance back,
      // and the activation is not spent twice on one server.
      const repeat = async (registered: Instance): Promise<Instance> => {
        if (registered.activationId !== id)
          return failed(
            'key registered with another activation',
            `this agent key is already registered as ${registered.id} with another activation: register with a new key (sesame-agent register generates one)`,
            'CONFLICT',
          );
        await audit({
          actor: 'agent',
          action: 'ssm:RegisterInstance',
          resource: instanceArn(arn, registered),
          outcome: 'succeeded',
          sourceAddress,
          detail: { activationId: id, hostname: inventory.hostname, repeated: true },
        });
        return registered;
      };
      const registered = await store.findInstanceByPublicKey(publicKey);
      if (registered) return repeat(registered);
      if (activation.expiresAt <= now()) {
        return failed(
          'expired',
          `activation ${id} expired at ${new Date(activation.expiresAt).toISOString()}: ask an administrator for a new one`,
        );
      }
      const prefix = activation.instanceKind === 'ec2' ? 'i-' : 'mi-';
      const tags = { ...activation.defaultTags };
      const instance: Instance = {
        ...inventory,
        id: `${prefix}${randomHex(17)}`,
        name: tags.Name ?? activation.defaultInstanceName ?? inventory.hostname,
        kind: activation.instanceKind,
        activationId: id,
        publicKey,
        status: 'ConnectionLost',
        lastSeenAt: null,
        registeredAt: now(),
        tags,
      };
      if (!Object.keys(tags).some((key) => key.toLowerCase() === 'name')) tags.Name = instance.name;
      const outcome = await store.registerInstance(instance, now());
      if (outcome !== 'created') {
        // Another request with the same key got there first (the same agent asking twice at once): a repeat.
        // Its claim and instance were committed before ours was refused, so the key is found now.
        const winner = await store.findInstanceByPublicKey(publicKey);
        if (winner) return repeat(winner);
        if (outcome === 'key taken')
          return failed(
            'key registered meanwhile',
            'this agent key was registered meanwhile and then deleted: register again',
            'CONFLICT',
          );
        // The id and code are right (so not 401): this activation may register no more instances.
        return failed(
          'limit',
          `activation ${id} has reached its registration limit of ${activation.registrationLimit}: ask an administrator for a new one`,
          'FORBIDDEN',
        );
      }
      await onRegistered?.(instance.id);
      await audit({
        actor: 'agent',
        action: 'ssm:RegisterInstance',
        resource: instanceArn(arn, instance),
        outcome: 'succeeded',
        sourceAddress,
        detail: { activationId: id, hostname: inventory.hostname },
      });
      return instance;
    },
  };
}

export type ActivationService = ReturnType<typeof createActivationService>;
