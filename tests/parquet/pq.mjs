// pq.mjs -- independent Parquet readers (DuckDB and hyparquet) for tollgate's tests.
//
//   node pq.mjs duckgen OUT --rows N [--codec zstd] [--rg 2048] [--seed 0] [--variant base|float]
//       write a file with DuckDB: dictionary strings (bloom filters), nulls, a list and a
//       struct column, several row groups, the given codec
//   node pq.mjs read FILE                       row count, schema and value checksum per reader
//   node pq.mjs check OUT [--columns a,b] SEG... compare OUT with the concatenation of the
//       segments, each `path` or `path@A:B` (row groups A..B-1), restricted to --columns;
//       exits 1 and explains on stderr when a reader disagrees
//   node pq.mjs bloom FILE COL PRESENT ABSENT   DuckDB's bloom probe must exclude ABSENT in every
//       row group that has a bloom filter for COL, and never exclude PRESENT
//   node pq.mjs benchgen DIR N ROWS              N daily files like a market-data feed (ZSTD, 8
//       columns), DIR/day-01.parquet ..., for bench/parquet.sh
//   node pq.mjs duckcopy OUT [--columns a,b] IN... DuckDB's decode + re-encode equivalent of
//       concat / project (COPY (SELECT ... FROM read_parquet([...])) TO OUT, ZSTD)
//   node pq.mjs indexes FILE                    every offset-index PageLocation must point at a
//       page inside its column chunk, the first one at the chunk's start
//
// Checksum (notes/parquet.md A5): rows in file order, each value canonicalised
// (N | n:number | s:"json" | b:bool | o:json), dates as days, timestamps as micros.
import { createHash } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, readOffsetIndex } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const canon = v => v === null || v === undefined ? 'N'
  : typeof v === 'bigint' || typeof v === 'number' ? 'n:' + String(v)
  : typeof v === 'string' ? 's:' + JSON.stringify(v)
  : typeof v === 'boolean' ? 'b:' + v
  : v instanceof Uint8Array ? 'x:' + Buffer.from(v).toString('hex')
  : 'o:' + JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x.toString() : x);
const digest = rows => createHash('sha256').update(rows.map(r => r.map(canon).join('\t')).join('\n')).digest('hex');
const sq = s => "'" + s.replaceAll("'", "''") + "'";

let db;
async function duck() {
  if (!db) db = await DuckDBInstance.create(':memory:', { threads: '1' });
  return db.connect();
}

// rows (arrays, in file order), column names and type strings, per reader
async function duckRead(path) {
  const con = await duck();
  const src = `read_parquet(${sq(path)}, file_row_number=true)`;
  const cols = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjects()
    .filter(d => d.column_name !== 'file_row_number');
  const proj = cols.map(({ column_name: c, column_type: t }) => {
    const q = '"' + c.replaceAll('"', '""') + '"';
    if (t === 'DATE') return `(${q} - DATE '1970-01-01')::BIGINT`;
    if (t.startsWith('TIMESTAMP')) return `epoch_us(${q})`;
    return q;
  }).join(', ');
  const rows = (await con.runAndReadAll(`SELECT ${proj} FROM ${src} ORDER BY file_row_number`)).getRowsJson();
  const meta = (await con.runAndReadAll(`SELECT num_rows, num_row_groups FROM parquet_file_metadata(${sq(path)})`)).getRowObjects()[0];
  return { names: cols.map(c => c.column_name), types: cols.map(c => `${c.column_name}:${c.column_type}`), rows,
           meta_rows: Number(meta.num_rows), row_groups: Number(meta.num_row_groups) };
}

function schemaStr(node) {
  const e = node.element;
  const kids = node.children.length ? '{' + node.children.map(schemaStr).join(',') + '}' : '';
  return `${e.name}:${e.type ?? ''}/${e.converted_type ?? ''}/${e.repetition_type ?? ''}${kids}`;
}

async function hyMeta(path) {
  const file = await asyncBufferFromFile(path);
  return { file, metadata: await parquetMetadataAsync(file) };
}

async function hyRead(path) {
  const { file, metadata } = await hyMeta(path);
  const top = parquetSchema(metadata).children;
  const names = top.map(c => c.element.name);
  const objs = await parquetReadObjects({ file, metadata, compressors, useOffsetIndex: true,
    parsers: { dateFromDays: d => d, timestampFromMicroseconds: u => u, timestampFromMilliseconds: m => m * 1000n } });
  return { names, types: top.map(schemaStr), rows: objs.map(o => names.map(n => o[n])),
           meta_rows: Number(metadata.num_rows), row_groups: metadata.row_groups.length,
           rg_rows: metadata.row_groups.map(g => Number(g.num_rows)) };
}

const readers = { duckdb: duckRead, hyparquet: hyRead };

function summary(r, keep) {
  const idx = keep ? r.names.map((n, i) => keep.includes(n) ? i : -1).filter(i => i >= 0) : r.names.map((_, i) => i);
  const rows = r.rows.map(row => idx.map(i => row[i]));
  return { rows: rows.length, schema: idx.map(i => r.types[i]).join(','), sha256: digest(rows) };
}

async function expected(reader, segs, keep) {
  let all = [], names, types, groups = 0;
  for (const seg of segs) {
    const m = /^(.*)@(\d+):(\d+)$/.exec(seg);
    const path = m ? m[1] : seg;
    const r = await readers[reader](path);
    let rows = r.rows;
    if (m) {
      const rg = (await hyRead(path)).rg_rows;
      const a = Number(m[2]), b = Number(m[3]);
      const start = rg.slice(0, a).reduce((x, y) => x + y, 0), end = start + rg.slice(a, b).reduce((x, y) => x + y, 0);
      rows = rows.slice(start, end);
      groups += b - a;
    } else {
      groups += r.row_groups;
    }
    if (!names) { names = r.names; types = r.types; }
    else if (types.join() !== r.types.join()) throw new Error(`segment ${seg}: schema differs from the first segment`);
    all = all.concat(rows);
  }
  return { ...summary({ names, types, rows: all }, keep), row_groups: groups };
}

function arg(args, name, def) {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

async function duckgen(args) {
  const out = args.shift();
  const rows = Number(arg(args, '--rows', '10000')), codec = arg(args, '--codec', 'zstd');
  const rg = Number(arg(args, '--rg', '2048')), seed = Number(arg(args, '--seed', '0'));
  const variant = arg(args, '--variant', 'base');
  const price = variant === 'float' ? 'FLOAT' : 'DOUBLE';
  const con = await duck();
  await con.run(`COPY (
    SELECT (${seed} * 1000000 + i)::BIGINT AS id,
      TIMESTAMPTZ '2026-02-01 00:00:00+00' + to_microseconds((i * 7919 + ${seed}) % 86400000000) AS ts,
      ['AAPL','MSFT','NVDA','ÉLF','BRK.B','V'][1 + (hash(i + ${seed}) % 6)::INT] AS symbol,
      CASE WHEN hash(i * 3 + ${seed}) % 7 = 0 THEN NULL ELSE ((hash(i + ${seed}) % 100000) / 100.0)::${price} END AS price,
      (hash(i * 5 + ${seed}) % 10000)::INTEGER AS qty,
      (DATE '2026-02-01' + (${seed} % 28)::INTEGER) AS day,
      CASE WHEN i % 11 = 0 THEN NULL ELSE list_transform(range((i % 4)::BIGINT), x -> 'tag' || ((x + i) % 9)) END AS tags,
      {'bid': (hash(i) % 1000)::INTEGER, 'venue': CASE WHEN i % 5 = 0 THEN NULL ELSE 'X' || (i % 3) END} AS quote,
      (i % 13 = 0) AS halted
    FROM range(${rows}) t(i) ORDER BY i)
    TO ${sq(out)} (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${rg})`);
}

async function check(args) {
  const out = args.shift();
  const cols = arg(args, '--columns', null);
  const keep = cols ? cols.split(',') : null;
  let bad = 0;
  for (const reader of Object.keys(readers)) {
    let got, want;
    try {
      const r = await readers[reader](out);
      got = { ...summary(r, null), row_groups: r.row_groups, meta_rows: r.meta_rows };
      want = await expected(reader, args, keep);
    } catch (e) {
      console.error(`${reader}: ERROR ${e.stack}`);
      bad++;
      continue;
    }
    const diffs = ['rows', 'schema', 'sha256', 'row_groups'].filter(k => got[k] !== want[k]);
    if (got.meta_rows !== got.rows) diffs.push('meta_rows');
    if (diffs.length) {
      bad++;
      console.error(`${reader}: ${out} differs in ${diffs.join(', ')}\n  got  ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
    } else {
      console.log(`${reader}: ${got.rows} rows, ${got.row_groups} row groups, sha256 ${got.sha256.slice(0, 16)}`);
    }
  }
  return bad ? 1 : 0;
}

async function indexes(path) {
  const { file, metadata } = await hyMeta(path);
  let n = 0;
  for (const [g, rg] of metadata.row_groups.entries()) {
    for (const [c, col] of rg.columns.entries()) {
      if (col.offset_index_offset === undefined) continue;
      const md = col.meta_data;
      const start = md.dictionary_page_offset && md.dictionary_page_offset < md.data_page_offset ? md.dictionary_page_offset : md.data_page_offset;
      const end = start + md.total_compressed_size;
      const off = Number(col.offset_index_offset), len = col.offset_index_length;
      const view = new DataView(await file.slice(off, off + len));
      const oi = readOffsetIndex({ view, offset: 0 });
      for (const [p, loc] of oi.page_locations.entries()) {
        if (loc.offset < start || loc.offset + BigInt(loc.compressed_page_size) > end)
          throw new Error(`row group ${g} column ${c} page ${p}: offset ${loc.offset} outside chunk [${start}, ${end})`);
        if (p === 0 && loc.offset !== md.data_page_offset && loc.offset !== start)
          throw new Error(`row group ${g} column ${c}: first page at ${loc.offset}, chunk data starts at ${md.data_page_offset}`);
        n++;
      }
      if (col.column_index_offset === undefined) throw new Error(`row group ${g} column ${c}: offset index without column index`);
    }
  }
  console.log(`${n} page locations checked`);
  return 0;
}

async function bloom(path, col, present, absent) {
  const con = await duck();
  const probe = async v => (await con.runAndReadAll(
    `SELECT row_group_id, bloom_filter_excludes FROM parquet_bloom_probe(${sq(path)}, ${sq(col)}, ${sq(v)}) ORDER BY row_group_id`)).getRowObjects();
  const p = await probe(present), a = await probe(absent);
  const withBloom = (await con.runAndReadAll(`SELECT count(*) AS n FROM parquet_metadata(${sq(path)}) WHERE path_in_schema = ${sq(col)} AND bloom_filter_offset IS NOT NULL`)).getRowObjects()[0].n;
  if (Number(withBloom) === 0) throw new Error(`${path}: no bloom filter on ${col}`);
  if (p.some(r => r.bloom_filter_excludes)) throw new Error(`${path}: bloom filter excludes present value ${present}`);
  const excluded = a.filter(r => r.bloom_filter_excludes).length;
  if (excluded !== Number(withBloom)) throw new Error(`${path}: absent value excluded in ${excluded} of ${withBloom} row groups`);
  console.log(`${path}: bloom filters of ${col} answer correctly in ${withBloom} row groups`);
  return 0;
}

async function benchgen(dir, n, rows) {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  for (let d = 1; d <= Number(n); d++) {
    const out = `${dir}/day-${String(d).padStart(2, '0')}.parquet`;
    await con.run(`COPY (
      SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' + INTERVAL (${d - 1}) DAY + to_microseconds(((i * 72000) + hash(i, ${d}) % 72000)::BIGINT) AS ts,
        ['AAPL','MSFT','NVDA','AMZN','GOOG','META','TSLA','JPM','V','XOM','UNH','ASML'][1 + (hash(i * 7, ${d}) % 12)::INT] AS symbol,
        round(100 + (hash(i, ${d}) % 10000000) / 10000.0, 4)::DOUBLE AS price,
        (1 + hash(i * 3, ${d}) % 5000)::BIGINT AS volume,
        round(99 + (hash(i * 5, ${d}) % 10000000) / 10000.0, 4)::DOUBLE AS bid,
        round(101 + (hash(i * 11, ${d}) % 10000000) / 10000.0, 4)::DOUBLE AS ask,
        ['XNAS','XNYS','ARCX','BATS'][1 + (hash(i * 13, ${d}) % 4)::INT] AS venue,
        CASE WHEN hash(i * 17, ${d}) % 6 = 0 THEN NULL ELSE ((hash(i * 19, ${d}) % 2001)::DOUBLE - 1000) / 1000 END AS sentiment
      FROM range(${Number(rows)}) t(i) ORDER BY i)
      TO ${sq(out)} (FORMAT parquet, COMPRESSION zstd)`);
  }
  return 0;
}

async function duckcopy(args) {
  const out = args.shift();
  const cols = arg(args, '--columns', null);
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const sel = cols ? cols.split(',').map(c => '"' + c + '"').join(', ') : '*';
  await con.run(`COPY (SELECT ${sel} FROM read_parquet([${args.map(sq).join(', ')}])) TO ${sq(out)} (FORMAT parquet, COMPRESSION zstd)`);
  return 0;
}

const [cmd, ...args] = process.argv.slice(2);
let rc = 0;
try {
  if (cmd === 'duckgen') await duckgen(args);
  else if (cmd === 'read') {
    for (const reader of Object.keys(readers)) {
      const r = await readers[reader](args[0]);
      console.log(JSON.stringify({ reader, ...summary(r, null), row_groups: r.row_groups, meta_rows: r.meta_rows }));
    }
  } else if (cmd === 'check') rc = await check(args);
  else if (cmd === 'indexes') rc = await indexes(args[0]);
  else if (cmd === 'bloom') rc = await bloom(...args);
  else if (cmd === 'benchgen') rc = await benchgen(...args);
  else if (cmd === 'duckcopy') rc = await duckcopy(args);
  else { console.error('usage: node pq.mjs duckgen|read|check|indexes ...'); rc = 2; }
} catch (e) {
  console.error(e.stack || String(e));
  rc = 1;
}
process.exit(rc);
