// Runs the `graphql-http` package's GraphQL-over-HTTP server audit against a running gateway and prints one
// line per audit plus the ok / notice / warn / error counts. Exits 1 when a MUST fails (an "error").
//
// Usage: node graphql-http-audit.cjs <node_modules dir> <GraphQL URL>
// The package is installed at run time by tools/audit/run.py into a git-ignored folder.
"use strict";

const path = require("node:path");

async function main() {
  const [modules, url] = process.argv.slice(2);
  if (!modules || !url) {
    console.error("usage: node graphql-http-audit.cjs <node_modules dir> <GraphQL URL>");
    process.exit(2);
  }
  const { auditServer } = require(path.join(path.resolve(modules), "graphql-http"));
  const results = await auditServer({ url });
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const result of results) {
    counts[result.status] += 1;
    const mark = { ok: "ok    ", notice: "notice", warn: "WARN  ", error: "ERROR " }[result.status];
    let line = `${mark} ${result.id} ${result.name}`;
    if (result.status !== "ok") {
      let body = "";
      try {
        body = (await result.response.text()).slice(0, 200);
      } catch {
        body = "(body unavailable)";
      }
      line += `\n         reason: ${result.reason}\n         HTTP ${result.response.status} ${body}`;
    }
    console.log(line);
  }
  console.log(
    `graphql-http audit: ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} error` +
      ` (${results.length} audits)`,
  );
  process.exit(counts.error > 0 ? 1 : 0);
}

main().catch((err) => {
  console.error("the audit could not run:", err);
  process.exit(2);
});
