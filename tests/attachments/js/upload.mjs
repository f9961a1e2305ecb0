// Upload one file with tus-js-client (the browser/Node tus client) and print what happened.
// Usage: node upload.mjs <endpoint> <token> <file> <sha256> <record_id> <chunk_bytes>
import { readFileSync } from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, token, file, sha256, recordId, chunk] = process.argv.slice(2);
const data = readFileSync(file);
let errors = 0;

const upload = new tus.Upload(data, {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: Number(chunk),
  retryDelays: Array(200).fill(0),
  storeFingerprintForResuming: false,
  metadata: { sha256, collection: "incidents", record_id: recordId, filename: "foto.jpg" },
  onShouldRetry: () => {
    errors += 1;
    return true;
  },
  onError: (err) => {
    console.error(String(err));
    process.exit(1);
  },
  onSuccess: () => {
    console.log(JSON.stringify({ url: upload.url, retries: errors }));
  },
});
upload.start();
