// t104.mjs -- a current AWS SDK for JavaScript v3 (@aws-sdk/client-s3, lib-storage,
// s3-request-presigner; exact versions in package-lock.json) against a running tollgate,
// with the SDK's DEFAULT checksum behaviour: streamed bodies go out as aws-chunked with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and an x-amz-checksum-crc32 trailer, small bodies
// with an x-amz-checksum-crc32 header, and GETs ask for the checksum back
// (x-amz-checksum-mode: ENABLED) and verify it. Run by tests/integration/t104-aws-sdk-js.sh
// with TG_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; prints ok/not ok lines.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand, DeleteObjectsCommand, CreateMultipartUploadCommand,
  UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const URL_ = process.env.TG_URL;
const MiB = 1 << 20;
let fails = 0;

function ok(cond, desc, detail = "") {
  if (cond) {
    console.log(`ok - ${desc}`);
  } else {
    fails++;
    console.log(`not ok - ${desc}`);
    for (const l of String(detail).split("\n").slice(0, 20)) console.log(`#   ${l}`);
  }
  return cond;
}
const eq = (desc, want, got) =>
  ok(JSON.stringify(want) === JSON.stringify(got), desc,
     `expected: ${JSON.stringify(want)}\nactual:   ${JSON.stringify(got)}`);
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const s3 = new S3Client({
  endpoint: URL_,
  region: "us-east-1",
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
});

// Record what goes on the wire (headers after signing) to assert the SDK's defaults.
const sent = [];
s3.middlewareStack.add(
  (next, context) => async (args) => {
    sent.push({ op: context.commandName, headers: { ...args.request.headers } });
    return next(args);
  },
  { step: "finalizeRequest", priority: "low", name: "tgRecord" },
);
const lastSent = (op) => [...sent].reverse().find((s) => s.op === op)?.headers ?? {};

async function errOf(p) {
  try {
    await p;
  } catch (e) {
    return [e.$metadata?.httpStatusCode, e.name];
  }
  return [null, null];
}

// A Readable that yields `buf` in uneven pieces, so chunk boundaries fall anywhere.
function piecewise(buf) {
  let off = 0;
  const sizes = [1, 1000, 65536, 7, 300000];
  let i = 0;
  return new Readable({
    read() {
      if (off >= buf.length) return this.push(null);
      const n = sizes[i++ % sizes.length];
      this.push(buf.subarray(off, off + n));
      off += n;
    },
  });
}

const B = "jsbkt";

async function section(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, `${name} threw`, e.stack || String(e));
  }
}

await section("bucket", async () => {
  const r = await s3.send(new CreateBucketCommand({ Bucket: B }));
  eq("CreateBucket: 200", 200, r.$metadata.httpStatusCode);
});

const streamed = randomBytes(700 * 1024 + 3);
await section("put stream", async () => {
  const r = await s3.send(new PutObjectCommand({
    Bucket: B, Key: "stream/one.bin", Body: piecewise(streamed), ContentLength: streamed.length,
    ContentType: "application/x-js", Metadata: { from: "sdk-js" },
  }));
  const h = lastSent("PutObjectCommand");
  eq("streamed put: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer (SDK default)",
     ["STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-checksum-crc32", "aws-chunked", String(streamed.length)],
     [h["x-amz-content-sha256"], h["x-amz-trailer"], h["content-encoding"], h["x-amz-decoded-content-length"]]);
  eq("streamed put: ETag is the MD5", `"${createHash("md5").update(streamed).digest("hex")}"`, r.ETag);
  ok(typeof r.ChecksumCRC32 === "string" && r.ChecksumCRC32.length === 8,
     "streamed put: the response echoes x-amz-checksum-crc32", JSON.stringify(r));
  const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "stream/one.bin" }));
  const body = Buffer.from(await g.Body.transformToByteArray());
  eq("get after streamed put: same sha256", sha256(streamed), sha256(body));
  eq("get: content type and metadata", ["application/x-js", { from: "sdk-js" }], [g.ContentType, g.Metadata]);
  eq("get: the stored crc32 comes back (and the SDK verified it)", r.ChecksumCRC32, g.ChecksumCRC32);
  const h2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "stream/one.bin" }));
  eq("head: ContentLength", streamed.length, h2.ContentLength);
  eq("head: the stored Content-Encoding has no aws-chunked", undefined, h2.ContentEncoding);
});

await section("refusals before the body", async () => {
  // The SDK sends no Expect: 100-continue under 2 MiB: it is writing the body when the
  // server refuses the request, and must still get the S3 error, not EPIPE.
  const bad = new S3Client({ endpoint: URL_, region: "us-east-1", forcePathStyle: true, maxAttempts: 1,
                             credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: "wrong" } });
  const body = Buffer.alloc(1500 * 1024, 7);
  const got = [];
  for (let i = 0; i < 4; i++) {
    got.push(await errOf(s3.send(new PutObjectCommand({ Bucket: "nosuchbkt", Key: "k", Body: body }))));
    got.push(await errOf(bad.send(new PutObjectCommand({ Bucket: B, Key: "k", Body: body }))));
  }
  eq("1.5 MiB PutObject (no Expect) refused: NoSuchBucket / SignatureDoesNotMatch every time",
     Array(4).fill([[404, "NoSuchBucket"], [403, "SignatureDoesNotMatch"]]).flat(), got);
});

await section("put buffer", async () => {
  const small = Buffer.from("hello from the js sdk\n");
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "small.txt", Body: small }));
  const h = lastSent("PutObjectCommand");
  ok(typeof h["x-amz-checksum-crc32"] === "string", "buffer put: x-amz-checksum-crc32 header (SDK default)",
     JSON.stringify(h));
  const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "small.txt" }));
  eq("buffer put: get returns it", small.toString(), await g.Body.transformToString());
  // A wrong checksum given by the caller is refused and stores nothing.
  eq("put with a wrong x-amz-checksum-crc32: 400 BadDigest", [400, "BadDigest"],
     await errOf(s3.send(new PutObjectCommand({ Bucket: B, Key: "bad.txt", Body: small, ChecksumCRC32: "AAAAAA==" }))));
  eq("nothing stored after BadDigest", [404, "NoSuchKey"],
     await errOf(s3.send(new GetObjectCommand({ Bucket: B, Key: "bad.txt" }))));
  // Other algorithms the SDK offers.
  for (const alg of ["CRC32C", "SHA1", "SHA256"]) {
    const r = await s3.send(new PutObjectCommand({ Bucket: B, Key: `alg-${alg}`, Body: piecewise(streamed),
                                                  ContentLength: streamed.length, ChecksumAlgorithm: alg }));
    const sentH = lastSent("PutObjectCommand");
    ok(sentH["x-amz-trailer"] === `x-amz-checksum-${alg.toLowerCase()}` && r[`Checksum${alg}`],
       `streamed put with ChecksumAlgorithm ${alg}: trailer accepted and echoed`, JSON.stringify(r));
  }
});

const big = randomBytes(12 * MiB + 5);
await section("lib-storage Upload", async () => {
  const up = new Upload({
    client: s3, params: { Bucket: B, Key: "mpu/big.bin", Body: piecewise(big), ContentType: "application/x-big" },
    partSize: 5 * MiB, queueSize: 3,
  });
  const r = await up.done();
  ok(/-3"$/.test(r.ETag || ""), "Upload (12 MiB, 5 MiB parts): multipart ETag -3", JSON.stringify(r));
  const parts = sent.filter((s) => s.op === "UploadPartCommand");
  eq("Upload: 3 UploadPart requests", 3, parts.length);
  ok(parts.every((p) => p.headers["x-amz-checksum-crc32"] || p.headers["x-amz-trailer"]),
     "Upload: every part carries a crc32 (header or trailer)", JSON.stringify(parts.map((p) => p.headers)));
  const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "mpu/big.bin" }));
  const body = Buffer.from(await g.Body.transformToByteArray());
  eq("Upload: get returns the same 12 MiB (sha256)", sha256(big), sha256(body));
  eq("Upload: content type kept", "application/x-big", g.ContentType);
  const rg = await s3.send(new GetObjectCommand({ Bucket: B, Key: "mpu/big.bin", Range: "bytes=5242870-5242889" }));
  eq("ranged get across a part boundary", big.subarray(5242870, 5242890).toString("hex"),
     Buffer.from(await rg.Body.transformToByteArray()).toString("hex"));
  // A small body goes as one PutObject.
  const up2 = new Upload({ client: s3, params: { Bucket: B, Key: "mpu/small.bin", Body: Buffer.from("tiny") } });
  await up2.done();
  const g2 = await s3.send(new GetObjectCommand({ Bucket: B, Key: "mpu/small.bin" }));
  eq("Upload of a small body", "tiny", await g2.Body.transformToString());
});

await section("explicit multipart with checksums", async () => {
  const c = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mpu/explicit.bin", ChecksumAlgorithm: "CRC32" }));
  const p1 = randomBytes(5 * MiB), p2 = randomBytes(1234);
  const u1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/explicit.bin", UploadId: c.UploadId, PartNumber: 1, Body: p1 }));
  const u2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/explicit.bin", UploadId: c.UploadId, PartNumber: 2, Body: p2 }));
  const r = await s3.send(new CompleteMultipartUploadCommand({
    Bucket: B, Key: "mpu/explicit.bin", UploadId: c.UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: u1.ETag, ChecksumCRC32: u1.ChecksumCRC32 },
                               { PartNumber: 2, ETag: u2.ETag, ChecksumCRC32: u2.ChecksumCRC32 }] },
  }));
  ok(/-2"$/.test(r.ETag || ""), "complete with part checksums: ETag -2", JSON.stringify(r));
  const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "mpu/explicit.bin" }));
  eq("explicit multipart: same bytes", sha256(Buffer.concat([p1, p2])),
     sha256(Buffer.from(await g.Body.transformToByteArray())));
  const c2 = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mpu/aborted.bin" }));
  await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: "mpu/aborted.bin", UploadId: c2.UploadId }));
  eq("abort then upload part: NoSuchUpload", [404, "NoSuchUpload"],
     await errOf(s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/aborted.bin", UploadId: c2.UploadId, PartNumber: 1, Body: Buffer.from("x") }))));
});

await section("list", async () => {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: "mpu/" }));
  eq("ListObjectsV2 prefix mpu/", ["mpu/big.bin", "mpu/explicit.bin", "mpu/small.bin"],
     (r.Contents || []).map((o) => o.Key));
  eq("ListObjectsV2: size of big.bin", big.length, (r.Contents || []).find((o) => o.Key === "mpu/big.bin")?.Size);
  const d = await s3.send(new ListObjectsV2Command({ Bucket: B, Delimiter: "/" }));
  eq("ListObjectsV2 with delimiter: prefixes", ["mpu/", "stream/"], (d.CommonPrefixes || []).map((p) => p.Prefix));
  const keys = [];
  let token;
  for (let i = 0; i < 20; i++) {
    const p = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(p.Contents || []).map((o) => o.Key));
    if (!p.IsTruncated) break;
    token = p.NextContinuationToken;
  }
  const all = await s3.send(new ListObjectsV2Command({ Bucket: B }));
  eq("ListObjectsV2 paginated by 2 = one listing", (all.Contents || []).map((o) => o.Key), keys);
});

await section("presign", async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "stream/one.bin" }), { expiresIn: 300 });
  ok(url.includes("X-Amz-Signature=") && url.startsWith(URL_), "getSignedUrl: a SigV4 URL on the endpoint", url);
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  eq("getSignedUrl GET fetched: 200 and the bytes", [200, sha256(streamed)], [res.status, sha256(body)]);
  const bad = await fetch(url.replace(/X-Amz-Signature=([0-9a-f])/, (m, c) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`));
  eq("tampered presigned URL: 403", 403, bad.status);
  const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: "presigned-put.txt" }), { expiresIn: 300 });
  const pr = await fetch(putUrl, { method: "PUT", body: "put through a presigned URL" });
  eq("getSignedUrl PUT fetched: 200", 200, pr.status);
  const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "presigned-put.txt" }));
  eq("presigned PUT stored the body", "put through a presigned URL", await g.Body.transformToString());
});

await section("delete", async () => {
  const r = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "small.txt" }));
  eq("DeleteObject: 204", 204, r.$metadata.httpStatusCode);
  eq("deleted object: NoSuchKey", [404, "NoSuchKey"], await errOf(s3.send(new GetObjectCommand({ Bucket: B, Key: "small.txt" }))));
  const all = await s3.send(new ListObjectsV2Command({ Bucket: B }));
  const d = await s3.send(new DeleteObjectsCommand({
    Bucket: B, Delete: { Objects: (all.Contents || []).map((o) => ({ Key: o.Key })) },
  }));
  const h = lastSent("DeleteObjectsCommand");
  ok(h["x-amz-checksum-crc32"] && !h["content-md5"], "DeleteObjects: SDK sends a crc32, no Content-MD5",
     JSON.stringify(h));
  eq("DeleteObjects: every key deleted, no errors", [(all.Contents || []).length, 0],
     [(d.Deleted || []).length, (d.Errors || []).length]);
  const left = await s3.send(new ListObjectsV2Command({ Bucket: B }));
  eq("bucket empty after DeleteObjects", 0, left.KeyCount);
});

process.exit(0);
