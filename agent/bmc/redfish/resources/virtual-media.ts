/**
 * VirtualMedia: the node's virtual CD drive. InsertMedia (or a PATCH of `Image`) fetches the image
 * over HTTP(S) into a scratch file, which the backend copies into the pool; EjectMedia empties the drive.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../../../../common/index.js';
import type { NodeStatus } from '../../../compute/index.js';
import type { RedfishBackend } from '../../backend.js';
import { collection, systemUri, type Doc } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { fetchImage } from '../media-fetch.js';
import { allow, checkIfMatch, missing, noContent, ok, type Reply } from '../reply.js';
import { jsonObject } from '../request-body.js';
import type { RedfishRequest, RedfishRouter } from '../router.js';

/** What virtual media needs. */
export interface VirtualMediaDeps {
  backend: Pick<RedfishBackend, 'setFirmware' | 'insertMedia' | 'ejectMedia'>;
  log: Logger;
  /** Where fetched images wait until they are copied into the pool. */
  scratchDir: string;
  /** Largest image accepted. */
  maxImageBytes: number;
  /** Deadline of one image download. */
  imageTimeoutMs: number;
}

/** What a PATCH of the drive may set. */
const PATCHABLE = ['VerifyCertificate', 'Image', 'Inserted', 'WriteProtected'];

/** The virtual CD drive. */
function virtualMediaDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/VirtualMedia/Cd`;
  const m = n.media;
  const inserted = m?.inserted ?? false;
  const image = m?.image ?? '';
  return {
    '@odata.id': base,
    '@odata.type': '#VirtualMedia.v1_4_0.VirtualMedia',
    Id: 'Cd',
    Name: 'Virtual CD',
    MediaTypes: ['CD', 'DVD'],
    Image: inserted ? image : null,
    ImageName: inserted ? (image.split('/').pop() ?? '') : '',
    ConnectedVia: inserted ? 'URI' : 'NotConnected',
    Inserted: inserted,
    WriteProtected: m?.writeProtected ?? true,
    TransferProtocolType: inserted ? (image.startsWith('https:') ? 'HTTPS' : 'HTTP') : null,
    VerifyCertificate: n.firmware.verifyMediaCertificate,
    Actions: {
      '#VirtualMedia.InsertMedia': { target: `${base}/Actions/VirtualMedia.InsertMedia` },
      '#VirtualMedia.EjectMedia': { target: `${base}/Actions/VirtualMedia.EjectMedia` },
    },
  };
}

/** An InsertMedia request. */
interface InsertMedia {
  image: string;
  writeProtected: boolean;
  auth: { username: string; password: string } | null;
}

function parseInsertMedia(body: unknown): InsertMedia {
  const b = jsonObject(body ?? {}, 'InsertMedia');
  if (typeof b.Image !== 'string' || b.Image === '')
    throw new RedfishError(400, 'InsertMedia needs Image (the URL of the image)', MessageId.ACTION_PARAMETER_MISSING);
  if (b.Inserted !== undefined && b.Inserted !== true)
    throw new RedfishError(
      400,
      'Inserted must be true: this BMC inserts the media it attaches',
      MessageId.ACTION_PARAMETER,
    );
  if (b.WriteProtected !== undefined && typeof b.WriteProtected !== 'boolean')
    throw new RedfishError(400, 'WriteProtected must be a boolean', MessageId.PROPERTY_TYPE);
  const hasUser = b.UserName !== undefined && b.UserName !== '';
  const hasPass = b.Password !== undefined && b.Password !== '';
  if (hasUser !== hasPass)
    throw new RedfishError(400, 'UserName and Password must be given together', MessageId.ACTION_PARAMETER);
  if (hasUser && (typeof b.UserName !== 'string' || typeof b.Password !== 'string'))
    throw new RedfishError(400, 'UserName and Password must be strings', MessageId.PROPERTY_TYPE);
  const proto = b.TransferProtocolType;
  const scheme = b.Image.split(':')[0]?.toUpperCase();
  if (proto !== undefined && proto !== null && proto !== scheme)
    throw new RedfishError(
      400,
      `TransferProtocolType ${JSON.stringify(proto)} does not match the Image URL (${scheme ?? ''})`,
      MessageId.ACTION_PARAMETER,
    );
  return {
    image: b.Image,
    writeProtected: b.WriteProtected !== false,
    auth: hasUser ? { username: b.UserName as string, password: b.Password as string } : null,
  };
}

/** Fetches the image an InsertMedia body names and puts it in the node's drive. */
async function insert(n: NodeStatus, body: unknown, deps: VirtualMediaDeps): Promise<void> {
  const req = parseInsertMedia(body);
  const fetched = await fetchImage(req.image, {
    dir: deps.scratchDir,
    maxBytes: deps.maxImageBytes,
    timeoutMs: deps.imageTimeoutMs,
    verifyTls: n.firmware.verifyMediaCertificate,
    auth: req.auth,
  });
  try {
    await deps.backend.insertMedia(n.uuid, {
      image: req.image,
      file: fetched.file,
      writeProtected: req.writeProtected,
    });
    deps.log.info('redfish virtual media inserted', { node: n.name, bytes: fetched.bytes });
  } finally {
    await rm(fetched.file, { force: true });
  }
}

/** A PATCH of the drive: `VerifyCertificate`, and insert or eject the way some clients do when a service offers no actions. */
async function patchDrive(req: RedfishRequest, n: NodeStatus, deps: VirtualMediaDeps): Promise<void> {
  const b = ((await req.body()) ?? {}) as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => !PATCHABLE.includes(k));
  if (extra.length > 0)
    throw new RedfishError(400, `cannot PATCH ${extra.join(', ')} of virtual media`, MessageId.PROPERTY_UNKNOWN);
  if (b.VerifyCertificate !== undefined) {
    if (typeof b.VerifyCertificate !== 'boolean')
      throw new RedfishError(400, 'VerifyCertificate must be a boolean', MessageId.PROPERTY_TYPE);
    await deps.backend.setFirmware(n.uuid, { verifyMediaCertificate: b.VerifyCertificate });
  }
  if (b.Inserted === false || b.Image === null || b.Image === '') await deps.backend.ejectMedia(n.uuid);
  else if (typeof b.Image === 'string') await insert(n, { Image: b.Image, WriteProtected: b.WriteProtected }, deps);
}

/**
 * Serves `Systems/<node>/VirtualMedia`, its drive `Cd` (GET, PATCH) and the drive's actions, and the
 * same below the node's Manager (whose VirtualMedia link points at the System's collection).
 */
export function registerVirtualMedia(router: RedfishRouter, deps: VirtualMediaDeps): void {
  const handle = async (req: RedfishRequest, n: NodeStatus, rest: readonly string[]): Promise<Reply> => {
    const [dev, sub, action] = rest;
    const base = `${systemUri(n.uuid)}/VirtualMedia`;
    if (dev === undefined) {
      allow('GET,HEAD', req.method);
      return ok(collection(base, 'VirtualMediaCollection', 'Virtual Media', [`${base}/Cd`]));
    }
    if (dev !== 'Cd') throw missing(`virtual media device ${dev} (this BMC has Cd)`);
    if (sub === undefined) {
      allow('GET,HEAD,PATCH', req.method);
      const doc = virtualMediaDoc(n);
      if (req.method !== 'PATCH') return ok(doc, { Allow: 'GET, HEAD, PATCH' });
      checkIfMatch(req.headers, doc);
      await patchDrive(req, n, deps);
      return noContent;
    }
    if (sub === 'Actions' && action === 'VirtualMedia.InsertMedia') {
      allow('POST', req.method);
      await insert(n, await req.body(), deps);
      return noContent;
    }
    if (sub === 'Actions' && action === 'VirtualMedia.EjectMedia') {
      allow('POST', req.method);
      await deps.backend.ejectMedia(n.uuid);
      return noContent;
    }
    throw missing(`resource ${base}/Cd/${[sub, action].filter(Boolean).join('/')}`);
  };
  router.nodeResource('Systems', 'VirtualMedia', (req, view, rest) => handle(req, view.node, rest));
  router.nodeResource('Managers', 'VirtualMedia', (req, view, rest) => handle(req, view.node, rest));
}
