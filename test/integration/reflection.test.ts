/** gRPC server reflection on the agent, through @grpc/reflection's own reflection.proto (v1 and v1alpha). */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { credentials, loadPackageDefinition, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Connection } from '../../agent/native/index.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, openLibvirt, suffix, TEST_URI } from './helpers.js';

/** Directory of the .proto files bundled with @grpc/reflection. */
const REFLECTION_PROTOS = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');

interface ReflectionRequest {
  host?: string;
  list_services?: string;
  file_containing_symbol?: string;
  file_by_filename?: string;
}

interface ReflectionResponse {
  /** Which of the oneof fields is set (`list_services_response`, `file_descriptor_response`, `error_response`). */
  message_response: string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

type ReflectionClient = Client & {
  ServerReflectionInfo(): ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
};
type ReflectionClientCtor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => ReflectionClient;

/** A reflection client of `version` (`v1` or `v1alpha`), built from the bundled reflection.proto. */
function reflectionClient(version: 'v1' | 'v1alpha', address: string): ReflectionClient {
  const def = loadSync(join(REFLECTION_PROTOS, 'grpc', 'reflection', version, 'reflection.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: ReflectionClientCtor }> };
  };
  const ctor = pkg.grpc.reflection[version]?.ServerReflection;
  assert.ok(ctor, `no ServerReflection service in ${version}/reflection.proto`);
  return new ctor(address, credentials.createInsecure());
}

/** Sends one request on a fresh ServerReflectionInfo stream and returns the single response. */
function ask(client: ReflectionClient, req: ReflectionRequest, timeoutMs = 10_000): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    let got: ReflectionResponse | undefined;
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`no reflection response to ${JSON.stringify(req)} within ${timeoutMs} ms`));
    }, timeoutMs);
    call.on('data', (res: ReflectionResponse) => {
      got ??= res;
      call.end();
    });
    call.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    call.on('end', () => {
      clearTimeout(timer);
      if (got) resolve(got);
      else reject(new Error('reflection stream ended without a response'));
    });
    call.write(req);
  });
}

function descriptors(res: ReflectionResponse): FileDescriptorProto[] {
  assert.equal(res.message_response, 'file_descriptor_response', `response: ${JSON.stringify(res.error_response)}`);
  const files = res.file_descriptor_response?.file_descriptor_proto ?? [];
  return files.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

describe('agent gRPC server reflection', function () {
  const run = suffix();
  const pool = `tenks-it-refl-${run}`;
  let conn: Connection | undefined;
  let agent: TestAgent | undefined;
  const clients: ReflectionClient[] = [];

  before(async function () {
    conn = await openLibvirt();
    agent = await startTestAgent({ libvirt_uri: TEST_URI, storage: { pool_name: pool } });
  });

  after(async function () {
    for (const c of clients) c.close();
    if (conn) await cleanupLibvirt(conn, { domainPart: run, pool });
    await agent?.stop();
    await conn?.close();
  });

  for (const version of ['v1', 'v1alpha'] as const) {
    describe(`grpc.reflection.${version}`, function () {
      let client: ReflectionClient | undefined;
      before(function () {
        assert.ok(agent);
        client = reflectionClient(version, agent.address);
        clients.push(client);
      });

      it('lists tenks.v1.AgentService', async function () {
        assert.ok(client);
        const res = await ask(client, { list_services: '' });
        assert.equal(res.message_response, 'list_services_response');
        const names = (res.list_services_response?.service ?? []).map((s) => s.name);
        assert.ok(names.includes('tenks.v1.AgentService'), `services: ${names.join(', ')}`);
        assert.ok(!names.includes('tenks.v1.CoordinatorService'), 'the agent does not serve the coordinator API');
      });

      it('returns the file declaring tenks.v1.AgentService, with its dependencies', async function () {
        assert.ok(client);
        const files = descriptors(await ask(client, { file_containing_symbol: 'tenks.v1.AgentService' }));
        assert.ok(files.length > 0, 'no file descriptors');
        const agentFile = files.find((f) => f.service.some((s) => s.name === 'AgentService'));
        assert.ok(agentFile, `files: ${files.map((f) => f.name).join(', ')}`);
        assert.equal(agentFile.package, 'tenks.v1');
        const methods = agentFile.service.find((s) => s.name === 'AgentService')?.method.map((m) => m.name) ?? [];
        for (const m of ['GetHostInfo', 'EnsureNode', 'DeleteNode', 'ListNodes', 'SetPower', 'WatchEvents'])
          assert.ok(methods.includes(m), `AgentService methods: ${methods.join(', ')}`);
        // @grpc/reflection merges the files of one package into one descriptor: the shared types are in it
        // (or in a dependency sent along), so a client can decode every message of the service.
        const messages = files.flatMap((f) => f.messageType.map((m) => `.${f.package}.${m.name}`));
        for (const m of ['.tenks.v1.NodeSpec', '.tenks.v1.EnsureNodeRequest', '.tenks.v1.WatchEventsResponse'])
          assert.ok(messages.includes(m), `messages: ${messages.join(', ')}`);
        const names = new Set(files.map((f) => f.name));
        for (const f of files)
          for (const d of f.dependency)
            assert.ok(names.has(d) || d.startsWith('google/protobuf/'), `${f.name} depends on ${d}, not sent`);
      });

      it('reports an unknown symbol as an error response', async function () {
        assert.ok(client);
        const res = await ask(client, { file_containing_symbol: `tenks.v1.NoSuchService${run}` });
        assert.equal(res.message_response, 'error_response');
        assert.ok((res.error_response?.error_code ?? 0) !== 0);
      });
    });
  }
});
