import assert from 'node:assert/strict';
import type { HostItem, HostSnapshot } from '../helpers/host-items.js';
import { diffProblems, diffSnapshots, matches, persistent } from '../helpers/host-snapshot-diff.js';
import { isRunner, otherRunOf } from '../helpers/host-snapshot-procs.js';

const snap = (items: HostItem[], unavailable: HostSnapshot['unavailable'] = {}): HostSnapshot => ({
  takenAt: '2026-12-05T00:00:00.000Z',
  items,
  unavailable,
});

const domain = (name: string, state: string, definition = 'd1'): HostItem => ({
  kind: 'domain',
  name,
  fields: { uuid: `uuid-${name}`, state, id: state === 'running' ? '7' : '', definition },
});
const link = (name: string, fields: Partial<Record<string, string>> = {}): HostItem => ({
  kind: 'link',
  name,
  fields: { ifindex: '10', kind: 'bridge', master: '', operstate: 'UP', mac: '02:00:00:00:00:01', ...fields },
});
const socket = (name: string, port: number, pid: number): HostItem => ({
  kind: 'socket',
  name,
  fields: { owner: `node[${pid}]` },
  pids: [pid],
  ports: [port],
});

/** A host like the one beside a quickstart lab: a running and a stopped node, a bridge, an agent's sockets. */
const lab = (): HostItem[] => [
  domain('tk0', 'running'),
  domain('tk1', 'shut off'),
  link('tenksdemo0'),
  socket('udp 127.0.0.1:6230', 6230, 100),
  socket('tcp 127.0.0.1:7443', 7443, 100),
  { kind: 'process', name: '100', fields: { command: 'node bin/tenks-agent.js' }, pids: [100] },
];

describe('diffSnapshots', () => {
  it('finds nothing between two equal snapshots', () => {
    const d = diffSnapshots(snap(lab()), snap(lab()));
    assert.deepEqual(d, { removed: [], changed: [], appeared: [] });
    assert.deepEqual(diffProblems(d), []);
  });

  it('reports a pre-existing thing that was removed, with what it was', () => {
    const d = diffSnapshots(snap(lab()), snap(lab().filter((i) => i.name !== 'tk1')));
    assert.deepEqual(
      d.removed.map((l) => l.text),
      ['removed: domain tk1 (uuid=uuid-tk1, state=shut off, definition=d1)'],
    );
    assert.equal(diffProblems(d).length, 1);
  });

  it('reports each changed field of a pre-existing thing, before → after', () => {
    const after = lab().map((i) =>
      i.name === 'tenksdemo0' ? link('tenksdemo0', { mac: '02:00:00:00:00:09', master: 'br9' }) : i,
    );
    const d = diffSnapshots(snap(lab()), snap(after));
    assert.deepEqual(
      d.changed.map((l) => l.text),
      ["changed: link tenksdemo0: master '' → br9; mac 02:00:00:00:00:01 → 02:00:00:00:00:09"],
    );
  });

  it('sees a running domain stopped, and one restarted (new id), but not one that stayed as it was', () => {
    const stopped = diffSnapshots(snap([domain('tk0', 'running')]), snap([domain('tk0', 'shut off')]));
    assert.deepEqual(
      stopped.changed.map((l) => l.text),
      ["changed: domain tk0: state running → shut off; id 7 → ''"],
    );
    const restarted = diffSnapshots(
      snap([domain('tk0', 'running')]),
      snap([{ ...domain('tk0', 'running'), fields: { ...domain('tk0', 'running').fields, id: '8' } }]),
    );
    assert.deepEqual(
      restarted.changed.map((l) => l.key),
      ['domain tk0'],
    );
    const redefined = diffSnapshots(snap([domain('tk1', 'shut off')]), snap([domain('tk1', 'shut off', 'd2')]));
    assert.match(redefined.changed[0]?.text ?? '', /definition d1 → d2/);
  });

  it('counts whatever appeared as the caller’s leftovers by default', () => {
    const d = diffSnapshots(snap(lab()), snap([...lab(), link('tkb1234'), domain('by1-0', 'shut off')]));
    assert.deepEqual(
      d.appeared.map((l) => [l.key, l.mine]),
      [
        ['link tkb1234', true],
        ['domain by1-0', true],
      ],
    );
    assert.equal(diffProblems(d).length, 2);
  });

  it('with `mine`, only the caller’s things that appeared are problems', () => {
    const after = [...lab(), link('tkx0001'), link('other0'), socket('udp 127.0.0.1:40001', 40001, 555)];
    const d = diffSnapshots(snap(lab()), snap(after), { mine: { prefixes: ['tkx'], pids: [555] } });
    assert.deepEqual(
      d.appeared.map((l) => [l.key, l.mine]),
      [
        ['link tkx0001', true],
        ['link other0', false],
        ['socket udp 127.0.0.1:40001', true],
      ],
    );
    assert.deepEqual(
      diffProblems(d).map((l) => l.key),
      ['link tkx0001', 'socket udp 127.0.0.1:40001'],
    );
    assert.match(d.appeared[1]?.text ?? '', /^appeared \(not the caller’s\): link other0/);
  });

  it('ignores what a rule names, and only the changes and fields the rule allows', () => {
    const before = [...lab(), link('virbr0', { operstate: 'DOWN' })];
    const after = [
      ...lab().map((i) => (i.name === 'tenksdemo0' ? link('tenksdemo0', { operstate: 'DOWN', mtu: '9000' }) : i)),
      link('virbr0', { operstate: 'UP' }),
      { kind: 'file', name: '/run/tenks/kvm-probe.json', fields: { size: '10' } } as HostItem,
    ];
    const d = diffSnapshots(snap(before), snap(after), {
      ignore: [
        { names: ['virbr0'], kinds: ['link'], reason: 'libvirt’s own bridge' },
        { names: ['/run/tenks/kvm-probe.json'], changes: ['appeared', 'changed'], reason: 'per-boot cache' },
        { names: ['tenksdemo0'], fields: ['operstate'], reason: 'test' },
      ],
    });
    assert.deepEqual(
      d.changed.map((l) => l.text),
      ["changed: link tenksdemo0: mtu '' → 9000"],
    );
    assert.deepEqual(d.appeared, []);
    // A rule for appearing does not hide a removal.
    const gone = diffSnapshots(snap([{ kind: 'file', name: '/run/tenks/kvm-probe.json', fields: {} }]), snap([]), {
      ignore: [{ names: ['/run/tenks/kvm-probe.json'], changes: ['appeared'], reason: 'x' }],
    });
    assert.equal(gone.removed.length, 1);
  });

  it('reports a source that became unreadable, and skips one that was never readable', () => {
    const ovsPort: HostItem = { kind: 'ovs-port', name: 'tp-tk0-0', fields: {} };
    const d = diffSnapshots(snap([...lab(), ovsPort]), snap(lab(), { ovs: 'ovs-vsctl: database connection failed' }));
    assert.deepEqual(
      d.changed.map((l) => l.text),
      ['changed: ovs was readable before, now: ovs-vsctl: database connection failed'],
    );
    // Its items are not reported one by one as removed.
    assert.deepEqual(d.removed, []);
    const never = diffSnapshots(snap(lab(), { ovs: 'no OVS' }), snap([...lab(), ovsPort], {}));
    assert.deepEqual(diffProblems(never), []);
  });

  it('keeps long values readable', () => {
    const cmd = `qemu-system-x86_64 ${'-device x '.repeat(100)}`;
    const d = diffSnapshots(snap([]), snap([{ kind: 'process', name: '9', fields: { command: cmd }, pids: [9] }]));
    const text = d.appeared[0]?.text ?? '';
    assert.ok(text.length < 260, text);
    assert.ok(text.endsWith('…)'), text);
  });
});

describe('persistent', () => {
  it('keeps differences still there a moment later and drops what came and went', () => {
    const first = diffSnapshots(snap(lab()), snap([...lab(), socket('udp 0.0.0.0:45000', 45000, 700), link('tkleak')]));
    const again = diffSnapshots(snap(lab()), snap([...lab(), link('tkleak')]));
    assert.deepEqual(
      persistent(first, again).appeared.map((l) => l.key),
      ['link tkleak'],
    );
  });
});

describe('matches', () => {
  it('tries prefixes on every part of a path-like name', () => {
    assert.ok(matches({ prefixes: ['by12-'] }, { kind: 'volume', name: 'tenks-by12/by12-0-vol0', fields: {} }));
    assert.ok(!matches({ prefixes: ['by12-'] }, { kind: 'volume', name: 'tenks/tk0-vol0', fields: {} }));
  });

  it('with only kinds matches every item of those kinds, and nothing else', () => {
    assert.ok(matches({ kinds: ['netns'] }, { kind: 'netns', name: 'x', fields: {} }));
    assert.ok(!matches({ kinds: ['netns'] }, { kind: 'link', name: 'x', fields: {} }));
    assert.ok(!matches({}, { kind: 'link', name: 'x', fields: {} }));
  });

  it('matches a pattern against the key and fields', () => {
    const probe: HostItem = {
      kind: 'process',
      name: '42',
      fields: {
        command: 'qemu-system-x86_64 -S -no-user-config -machine none,accel=tcg -qmp unix:/x/capabilities.monitor.sock',
      },
    };
    assert.ok(matches({ kinds: ['process'], pattern: /capabilities\.monitor\.sock/ }, probe));
  });
});

describe('otherRunOf', () => {
  // 1 init; 10 a shell; 20 our mocha wrapper, 21 our test process; 30 another engineer's mocha
  // with its nats-server 31; 40 the quickstart's agent, started by a supervisor 41 under init.
  const table = new Map<number, { ppid: number; argv: string[] }>([
    [1, { ppid: 0, argv: ['/sbin/init'] }],
    [10, { ppid: 1, argv: ['bash'] }],
    [20, { ppid: 10, argv: ['node', 'node_modules/.bin/mocha', '--config', '.mocharc.system.json'] }],
    [21, { ppid: 20, argv: ['node', '--import=tsx', 'node_modules/mocha/lib/cli/cli.js'] }],
    [22, { ppid: 21, argv: ['/usr/sbin/nats-server', '-p', '-1'] }],
    [30, { ppid: 10, argv: ['node', '--import', 'tsx', 'node_modules/mocha/bin/mocha.js', 'x.test.ts'] }],
    [31, { ppid: 30, argv: ['/usr/sbin/nats-server', '-p', '-1'] }],
    [41, { ppid: 1, argv: ['bash', 'scripts/supervise.sh', '--name', 'agent'] }],
    [40, { ppid: 41, argv: ['node', 'bin/tenks-agent.js'] }],
  ]);

  it('names the other run a process was started under', () => {
    assert.match(otherRunOf(table, 31, 21) ?? '', /^pid 30: node --import tsx node_modules\/mocha\/bin\/mocha\.js/);
  });

  it('leaves this run’s processes, its ancestors and processes of no run unmarked', () => {
    assert.equal(otherRunOf(table, 22, 21), undefined);
    assert.equal(otherRunOf(table, 20, 21), undefined);
    assert.equal(otherRunOf(table, 40, 21), undefined);
  });

  it('counts mocha and tsx scripts of tests, benches and temp dirs as runs, not daemons run from source', () => {
    assert.ok(isRunner(['node', 'node_modules/.bin/mocha', 'test/system/x.test.ts']));
    assert.ok(isRunner(['node', 'node_modules/.bin/tsx', 'bench/local.ts']));
    assert.ok(isRunner(['node', '--import', 'file:///r/node_modules/tsx/dist/loader.mjs', '/tmp/fz/i1.mts']));
    assert.ok(!isRunner(['node', 'node_modules/.bin/tsx', 'agent/main.ts', '--config', '/etc/tenks/agent.yaml']));
    assert.ok(!isRunner(['/usr/bin/node', '/work/main/bin/tenks-agent.js', '--config', '/etc/tenks/agent.yaml']));
  });

  it('lets an ignore rule leave another run’s items out', () => {
    const theirs: HostItem = { ...socket('tcp 127.0.0.1:41000', 41000, 31), otherRun: 'pid 30: mocha' };
    const d = diffSnapshots(snap([theirs]), snap([]), { ignore: [{ otherRun: true, reason: 'theirs' }] });
    assert.deepEqual(diffProblems(d), []);
    assert.equal(diffProblems(diffSnapshots(snap([theirs]), snap([]))).length, 1);
  });
});
