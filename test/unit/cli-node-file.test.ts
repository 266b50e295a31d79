import assert from 'node:assert/strict';
import { nodeFileToSpec } from '../../cli/node-file.js';

describe('tenksctl agent ensure node files', () => {
  const base = { cluster: 'c1', name: 'n1', memory_mb: 512, vcpus: 1 };

  it('passes the architecture to the agent, empty (x86_64) when not given', () => {
    assert.equal(nodeFileToSpec({ ...base, arch: 'aarch64' }, 'node.yaml').arch, 'aarch64');
    assert.equal(nodeFileToSpec(base, 'node.yaml').arch, '');
  });
});
