// The README and the guides run as written: every shell and JavaScript block,
// in order, against a fresh `mandate serve --dev` (lib/docs.mjs says how).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { REPO, blockKind, codeBlocks, runDoc } from './lib/docs.mjs';

const pages = ['README.md',
  ...readdirSync(path.join(REPO, 'docs/guides')).filter((f) => f.endsWith('.md')).sort()
    .map((f) => `docs/guides/${f}`)];

describe('documentation that runs as written', () => {
  it('reads fenced blocks and what to do with each', () => {
    const md = '# t\n```sh\necho a\n```\ntext\n~~~js\nconsole.log(1)\n~~~\n```ini mandate.conf\n[x]\n```\n'
      + '```sh no-run\nkubectl\n```\n```json\n{}\n```\n';
    const b = codeBlocks(md);
    assert.deepEqual(b.map((x) => [x.lang, x.line, blockKind(x)]),
      [['sh', 2, 'sh'], ['js', 6, 'js'], ['ini', 9, 'conf'], ['sh', 12, null], ['json', 15, null]]);
    assert.equal(b[0].code, 'echo a');
  });

  for (const page of pages) {
    it(page, async () => {
      const { ran } = await runDoc(path.join(REPO, page));
      assert.ok(ran > 0, `${page} has no runnable block`);
    });
  }
});
