#!/usr/bin/env node
// bench/quality: quantization quality table. For each model, type and method: bits per
// weight, perplexity on each evaluation text, KL divergence vs the model's F32 conversion,
// quantization time and peak memory. Markdown on stdout, JSON beside it (--json-out).
//
//   bench/quality.mjs [--models a,b] [--types Q8_0,Q4_0,...] [--methods rtn,imatrix,gptq,awq]
//                     [--texts eval,wiki] [--ctx 256] [--chunks N] [--calib FILE] [--pure]
//                     [--out DIR] [--json-out FILE]
// Calibration uses only --calib (default: shared/data/tinystories/calib.txt); evaluation
// texts are never used for calibration.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "..");
const shared = process.env.LOWBIT_SHARED || path.resolve(root, "..", "shared");
const bin = process.env.LOWBIT_BIN || path.join(root, "build", "lowbit");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
    return acc;
  }, []));
const list = (k, d) => (args[k] || d).split(",").filter(Boolean);
const models = list("models", "stories260K,tinystories-llama-6m");
const types = list("types", "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,IQ4_NL,Q3_K_M,Q2_K");
const methods = list("methods", "rtn");
const texts = list("texts", "eval,wiki");
const ctx = args.ctx || "256";
const calib = args.calib || path.join(shared, "data/tinystories/calib.txt");
const out = args.out || path.join(root, "out", "quality");
fs.mkdirSync(out, { recursive: true });

const modelPath = { "stories260K": "models/stories260K.bin", "tinystories-llama-6m": "models/tinystories-llama-6m" };
const textPath = { eval: "data/tinystories/eval.txt", wiki: "data/wikitext-2/wiki.test.raw" };
const lowbit = (...a) => JSON.parse(execFileSync(bin, [...a, "--json"], { encoding: "utf8", maxBuffer: 1 << 28 }));
const pplArgs = (t) => ["-f", path.join(shared, textPath[t]), "-c", ctx, ...(args.chunks ? ["--chunks", args.chunks] : [])];

const rows = [];
for (const m of models) {
  const src = path.join(shared, modelPath[m] || m);
  const base = path.join(out, `${m}-F32.gguf`);
  lowbit("convert", src, base, "--type", "f32");
  const baseLogits = {};
  for (const t of texts) {
    baseLogits[t] = path.join(out, `${m}-${t}.logits`);
    const r = lowbit("perplexity", base, ...pplArgs(t), "--save-logits", baseLogits[t]);
    rows.push({ model: m, type: "F32", method: "-", bpw: 32, [`ppl_${t}`]: r.ppl, [`kl_${t}`]: 0, seconds: 0, peak_mib: 0 });
  }
  // Merge the F32 rows of the different texts into one.
  const f32 = rows.filter((r) => r.model === m && r.type === "F32");
  const merged = Object.assign({}, ...f32);
  rows.splice(rows.indexOf(f32[0]), f32.length, merged);
  for (const ty of types)
    for (const me of methods) {
      const q = path.join(out, `${m}-${ty}-${me}.gguf`);
      const qa = ["quantize", src, q, "--type", ty, "--method", me];
      if (me !== "rtn") qa.push("--calib", calib);
      if (args.pure) qa.push("--pure");
      let rep;
      try { rep = lowbit(...qa); } catch (e) { rows.push({ model: m, type: ty, method: me, error: String(e.stderr || e).trim().split("\n").pop() }); continue; }
      const row = { model: m, type: ty, method: me, bpw: rep.bits_per_weight, seconds: rep.seconds, peak_mib: rep.peak_rss_bytes / 1048576 };
      for (const t of texts) {
        const r = lowbit("perplexity", q, ...pplArgs(t), "--kl-base", baseLogits[t]);
        row[`ppl_${t}`] = r.ppl;
        row[`kl_${t}`] = r.kl.mean;
        row[`top_${t}`] = r.kl.same_top_pct;
      }
      rows.push(row);
      process.stderr.write(`quality: ${m} ${ty} ${me} done\n`);
    }
}

const f = (v, d = 4) => (v === undefined ? "" : typeof v === "number" ? v.toFixed(d) : String(v));
const head = ["model", "type", "method", "bpw", ...texts.flatMap((t) => [`PPL ${t}`, `KL ${t}`]), "quant s", "peak MiB"];
console.log(`| ${head.join(" | ")} |`);
console.log(`|${head.map(() => "---").join("|")}|`);
for (const r of rows)
  console.log(`| ${[r.model, r.type, r.method, f(r.bpw, 3), ...texts.flatMap((t) => [f(r[`ppl_${t}`]), f(r[`kl_${t}`], 5)]),
    f(r.seconds, 1), f(r.peak_mib, 1)].join(" | ")}${r.error ? ` (error: ${r.error})` : ""} |`);
fs.writeFileSync(args["json-out"] || path.join(out, "quality.json"), JSON.stringify(rows, null, 2));
