// ot_replay.bench.mjs -- replay every editing trace with JavaScript string
// slicing in node (the reference a JS editor would use), and print the ratio
// to the Chorus C buffer measured in the same run by the C benchmark binary
// ($BUILD/bench/bench_ot_replay --ms TRACE).
//
// Positions in the traces are code points; JS strings index UTF-16 units.
// The traces hold no characters outside the BMP (checked below), so direct
// slicing is exact; a trace that had some would be replayed with a
// code-point to UTF-16 conversion. Each figure is the best of several runs.
import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';

const traces = ['automerge-paper', 'seph-blog1', 'rustcode', 'friendsforever_flat',
  'clownschool_flat', 'json-crdt-blog-post', 'sveltecomponent', 'json-crdt-patch'];
const build = process.env.BUILD || 'build';
const cbin = `${build}/bench/bench_ot_replay`;
const astral = /[\ud800-\udfff]/;

function load(name) {
  const gz = readFileSync(`tests/data/traces/${name}.json.gz`);
  const t = JSON.parse(gunzipSync(gz).toString('utf8'));
  const patches = [];
  for (const txn of t.txns) for (const p of txn.patches) patches.push(p);
  const bmp = !patches.some((p) => astral.test(p[2]));
  return { patches, end: t.endContent, bmp };
}

// UTF-16 index of code point 'cp' in 's'.
function unitIndex(s, cp) {
  let i = 0;
  while (cp > 0 && i < s.length) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c < 0xdc00 ? 2 : 1;
    cp--;
  }
  return i;
}

function replay(tr) {
  let doc = '';
  const t0 = process.hrtime.bigint();
  if (tr.bmp) {
    for (const [pos, del, ins] of tr.patches)
      doc = doc.slice(0, pos) + ins + doc.slice(pos + del);
  } else {
    for (const [pos, del, ins] of tr.patches) {
      const a = unitIndex(doc, pos);
      const b = a + unitIndex(doc.slice(a), del);
      doc = doc.slice(0, a) + ins + doc.slice(b);
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (doc !== tr.end) throw new Error('wrong final text');
  return ms;
}

let status = 0;
for (const name of traces) {
  const tr = load(name);
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, replay(tr));
  console.log(`replay_${name}_node_slice: ${best.toFixed(2)} ms`);
  console.log(`replay_${name}_node_slice_rate: ${Math.round(tr.patches.length / best * 1e3)} ops/s`);
  if (existsSync(cbin)) {
    try {
      const c = Number(execFileSync(cbin, ['--ms', name], { encoding: 'utf8' }).trim());
      console.log(`replay_${name}_chorus: ${c.toFixed(2)} ms`);
      console.log(`replay_${name}_node_over_chorus: ${(best / c).toFixed(1)} x`);
    } catch (e) {
      console.log(`replay_${name}_chorus: FAILED (${e.message})`);
      status = 1;
    }
  }
}
process.exit(status);
