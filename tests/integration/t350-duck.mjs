// t350-duck.mjs -- DuckDB (npm, from tests/parquet) value checks for t350-simulation.sh,
// several in one process: node t350-duck.mjs SEG... where each SEG file lists a bundle
// (first line) and the day files it must equal (the rest, in the manifest's order).
// A bundle equals its days when the row counts match and the rows in file order are
// the same: (bundle EXCEPT ALL days) and (days EXCEPT ALL bundle) are empty, and an
// order-sensitive hash over all columns agrees. Prints "ok NAME" / "bad NAME: why".
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'tests', 'parquet', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');
const sq = s => "'" + s.replaceAll("'", "''") + "'";

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const one = async q => (await con.runAndReadAll(q)).getRows()[0];
let bad = 0;
for (const seg of process.argv.slice(2)) {
  const name = basename(seg, '.seg');
  const [bundle, ...days] = readFileSync(seg, 'utf8').split('\n').filter(Boolean);
  try {
    const b = `read_parquet(${sq(bundle)})`;
    const d = `read_parquet([${days.map(sq).join(', ')}])`;
    const [nb] = await one(`SELECT count(*) FROM ${b}`);
    const [nd] = await one(`SELECT count(*) FROM ${d}`);
    const [x1] = await one(`SELECT count(*) FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${d})`);
    const [x2] = await one(`SELECT count(*) FROM (SELECT * FROM ${d} EXCEPT ALL SELECT * FROM ${b})`);
    // order-sensitive: a hash of each row with its position
    const h = async src => (await one(`SELECT sum(hash(t, r)) FROM (SELECT t, row_number() OVER () AS r FROM (SELECT * FROM ${src}) t)`))[0];
    const hb = await h(b), hd = await h(d);
    if (nb !== nd || x1 !== 0n || x2 !== 0n || String(hb) !== String(hd)) {
      bad++;
      console.log(`bad ${name}: rows ${nb} vs ${nd} of ${days.length} days, ${x1} + ${x2} rows differ, order hash ${hb === hd ? 'same' : 'differs'}`);
    } else {
      console.log(`ok ${name}: ${nb} rows = ${days.length} days' files`);
    }
  } catch (e) {
    bad++;
    console.log(`bad ${name}: ${String(e.message || e).split('\n')[0]}`);
  }
}
process.exit(0);
