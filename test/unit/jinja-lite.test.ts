import assert from 'node:assert/strict';
import { isTemplate, parseTemplate, renderTemplate, TemplateError } from '../../common/jinja-lite.js';
import { parseOsRelease, templateFacts } from '../../agent/compute/host-template-facts.js';

const DEBIAN = templateFacts(
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
);
const ROCKY = templateFacts('NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nID_LIKE="rhel centos fedora"\n');
const UBUNTU = templateFacts('NAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n');

// Kayobe's dev configuration, verbatim.
const KAYOBE =
  "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}";

describe('jinja-lite: the Jinja of upstream host-specific values', () => {
  it('derives Ansible facts from os-release', () => {
    assert.equal(DEBIAN.os_family, 'Debian');
    assert.equal(DEBIAN.distribution, 'Debian');
    assert.equal(DEBIAN.distribution_major_version, '12');
    assert.equal(DEBIAN.distribution_release, 'bookworm');
    assert.equal(ROCKY.os_family, 'RedHat');
    assert.equal(ROCKY.distribution, 'Rocky');
    assert.equal(ROCKY.distribution_major_version, '9');
    assert.equal(UBUNTU.os_family, 'Debian');
    assert.equal(UBUNTU.distribution, 'Ubuntu');
    assert.deepEqual(parseOsRelease("A='x y'\n# c\nB=z"), { A: 'x y', B: 'z' });
  });

  it("renders Kayobe's emulator choice per host", () => {
    assert.equal(renderTemplate(KAYOBE, DEBIAN), '/usr/bin/qemu-system-x86_64');
    assert.equal(renderTemplate(KAYOBE, UBUNTU), '/usr/bin/qemu-system-x86_64');
    assert.equal(renderTemplate(KAYOBE, ROCKY), '/usr/libexec/qemu-kvm');
  });

  it('renders elif, in, not, and/or, filters, subscripts, old fact names and whitespace control', () => {
    const t =
      "{%- if ansible_facts['os_family'] | lower == 'redhat' and ansible_distribution_major_version | int >= 0 -%}" +
      ' a ' +
      "{%- elif ansible_facts.distribution in ['Ubuntu', 'Debian'] and not ansible_facts.os_family != 'Debian' -%}" +
      ' /usr/bin/qemu-system-{{ ansible_facts.architecture }} ' +
      '{%- else -%} c {%- endif %}';
    // `>=` is not understood: refused rather than guessed.
    assert.throws(() => parseTemplate(t), TemplateError);
    const ok = t.replace(' and ansible_distribution_major_version | int >= 0', '');
    assert.equal(renderTemplate(ok, ROCKY), 'a');
    assert.equal(renderTemplate(ok, DEBIAN), `/usr/bin/qemu-system-${DEBIAN.architecture ?? ''}`);
    assert.equal(
      renderTemplate(
        "{% if ansible_os_family == 'Suse' or ansible_os_family == 'RedHat' %}x{% else %}y{% endif %}",
        ROCKY,
      ),
      'x',
    );
  });

  it('refuses what it does not understand, saying what', () => {
    const cases: [string, RegExp][] = [
      ['{{ lookup("env", "QEMU") }}', /lookup/],
      ['{% for x in y %}{% endfor %}', /for/],
      ["{% if ansible_facts.os_family == 'RedHat' %}x", /endif/],
      ['{% endif %}', /without/],
      ["{{ ansible_facts.os_family | regex_replace('a', 'b') }}", /regex_replace/],
      ['{{ playbook_dir }}', /playbook_dir/],
    ];
    for (const [text, why] of cases) assert.throws(() => parseTemplate(text), why, text);
    assert.throws(() => renderTemplate('{{ ansible_facts.nosuchfact }}', DEBIAN), /nosuchfact/);
  });

  it('tells templates from plain values', () => {
    assert.equal(isTemplate(KAYOBE), true);
    assert.equal(isTemplate('/usr/bin/qemu-system-aarch64'), false);
    assert.equal(renderTemplate('/usr/bin/qemu-system-aarch64', DEBIAN), '/usr/bin/qemu-system-aarch64');
  });
});
