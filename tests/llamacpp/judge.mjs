#!/usr/bin/env node
// judge.mjs: real llama.cpp (through node-llama-cpp 3.21.1, CPU only) as an outside judge
// for the GGUF files lowbit writes. Tests compare its output with lowbit's own.
//
//   node tests/llamacpp/judge.mjs tokenize MODEL.gguf TEXTFILE [--json-out FILE]
//       -> {"tokens":[...]}  llama.cpp's tokenization of the file's text (special-token
//          text is NOT parsed), with BOS prepended when the vocab's add_bos flag is set,
//          as llama_tokenize(add_special=true) does. Loads the model vocab-only, so a
//          GGUF without tensors (e.g. ggml-vocab-llama-spm.gguf) works.
//   node tests/llamacpp/judge.mjs logprobs MODEL.gguf TEXTFILE [--ctx N] [--max-tokens M] [--batch B] [--kv-f32] [--json-out FILE]
//       -> {"tokens":[...], "logprobs":[...]}  tokens as above, cut to M (default 128) and to
//          the context size N (default M); logprobs[i] = ln P(tokens[i+1] | tokens[0..i]),
//          the full-vocabulary softmax of the raw logits (greedy sampler, temperature 0, no
//          penalties or biases), from one evaluation of the whole sequence in one context.
//          Flash attention is off: with it on, llama.cpp's CPU results depend on how many
//          tokens are in the batch (~4e-4 in logprob); off, position i's logprob does not
//          depend on --max-tokens or --ctx. The KV cache is F16 (llama.cpp's default);
//          --kv-f32 makes it F32: then blocks-F32.gguf matches a float64 forward pass to ~2e-6
//          (with F16 KV, to ~6e-4). --batch B (default: the context) evaluates the sequence in
//          batches of B tokens (B = 1: one token at a time, llama.cpp's decode kernels).
//   node tests/llamacpp/judge.mjs bench MODEL.gguf [--n-prompt P] [--n-gen N] [--reps R] [--threads T] [--json-out FILE]
//       -> {"pp_mean", "pp_sd", "tg_mean", "tg_sd", "pp_samples", "tg_samples", "settings": {...}}
//          tokens/s measured as llama-bench (and `lowbit bench`) does, each test R times (default
//          3) after an untimed warm-up: pp = P (default 512) random token ids evaluated as one
//          batch from an empty KV cache, logits for the last one; tg = N (default 128) tokens
//          after a one-token (BOS) prompt, one at a time, each with its logits and a greedy pick,
//          the next input being a random token (as llama-bench feeds; an end-of-generation
//          pick does not stop the run). sd is the sample standard deviation (n - 1).
//          Flash attention off, F16 KV cache, batch size P, T threads (default 2); everything
//          else is llama.cpp's default. The settings are repeated in the output.
//
// Errors go to stderr with exit code 1. Threads: 2 (bench: --threads).
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

// llama.cpp's log is kept and shown only on failure: node-llama-cpp's memory simulator
// always tries a full load first and logs a harmless "missing tensor" for vocab-only files.
const llamaLog = [];

function fail(msg) {
    for (const line of llamaLog) process.stderr.write(line + "\n");
    process.stderr.write(`judge: ${msg}\n`);
    process.exit(1);
}

const USAGE = "usage: judge.mjs tokenize|logprobs MODEL.gguf TEXTFILE [--ctx N] [--max-tokens M] [--batch B] [--kv-f32] [--json-out FILE]\n" +
    "       judge.mjs bench MODEL.gguf [--n-prompt P] [--n-gen N] [--reps R] [--threads T] [--json-out FILE]";

function parseArgs(argv) {
    const [mode, model, ...more] = argv;
    if (!["tokenize", "logprobs", "bench"].includes(mode) || !model) fail(USAGE);
    const textFile = mode === "bench" ? null : more[0];
    if (mode !== "bench" && !textFile) fail(USAGE);
    const rest = mode === "bench" ? more : more.slice(1);
    const opts = { mode, model, textFile, ctx: null, maxTokens: 128, jsonOut: null, kvF32: false,
        nPrompt: 512, nGen: 128, reps: 3, threads: 2 };
    const counts = { "--ctx": ["ctx", 1], "--max-tokens": ["maxTokens", 1], "--n-prompt": ["nPrompt", 0],
        "--n-gen": ["nGen", 0], "--reps": ["reps", 1], "--threads": ["threads", 1], "--batch": ["batch", 1] };
    for (let i = 0; i < rest.length; i += 2) {
        const [flag, val] = [rest[i], rest[i + 1]];
        if (flag === "--kv-f32") { opts.kvF32 = true; i--; continue; }
        if (val === undefined) fail(`missing value for ${flag}`);
        if (flag === "--json-out") opts.jsonOut = val;
        else if (counts[flag]) {
            const [key, min] = counts[flag];
            const n = Number(val);
            if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}, got ${val}`);
            opts[key] = n;
        } else fail(`unknown option ${flag}`);
    }
    if (mode === "bench" && opts.nPrompt === 0 && opts.nGen === 0) fail("bench: nothing to run (--n-prompt 0 and --n-gen 0)");
    for (const f of [model, textFile].filter((f) => f !== null))
        if (!fs.existsSync(f)) fail(`no such file: ${f}`);
    return opts;
}

// llama_tokenize(text, add_special=true, parse_special=false), minus the EOS that
// add_special would also append for vocabs with add_eos set (none of ours).
function tokenize(model, text) {
    const tokens = model.tokenize(text, false);
    if (model.tokens.shouldPrependBosToken) tokens.unshift(model.tokens.bos);
    return tokens;
}

function meanSd(xs) {
    if (xs.length === 0) return { mean: 0, sd: 0 };
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
    return { mean, sd: Math.sqrt(v) };
}

// llama-bench's pp and tg tests (see the header), on one context whose sequence is cleared
// before every run, as llama-bench clears its KV cache.
async function bench(llama, model, o) {
    const nVocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const random = () => Math.floor(Math.random() * nVocab);
    const bos = model.tokens.bos ?? random();
    const batch = Math.max(1, o.nPrompt);
    const context = await model.createContext({
        contextSize: Math.max(o.nPrompt, o.nGen + 1, 32), batchSize: batch, sequences: 1,
        threads: { ideal: o.threads, min: o.threads }, flashAttention: false,
        experimentalKvCacheKeyType: "F16", experimentalKvCacheValueType: "F16",
    });
    const seq = context.getSequence();
    const greedy = { temperature: 0, yieldEogToken: true };
    // Evaluates `tokens` and picks a next token from the last one's logits.
    const prompt = async (tokens) => {
        const it = seq.evaluate(tokens, greedy);
        await it.next();
        await it.return();
    };
    // One-token prompt, then n single-token steps; returns the seconds of the n steps.
    const generate = async (n) => {
        const it = seq.evaluate([bos], greedy);
        await it.next();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await it.next(random());
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        await it.return();
        return s;
    };
    const time = async (f) => {
        const t0 = process.hrtime.bigint();
        await f();
        return Number(process.hrtime.bigint() - t0) / 1e9;
    };

    await seq.clearHistory();   // warm-up: pages the weights in, sizes the buffers
    await prompt(Array.from({ length: Math.max(1, Math.min(o.nPrompt, 32)) }, random));
    await seq.clearHistory();
    await generate(1);
    const pp = [], tg = [];
    for (let r = 0; r < o.reps; r++) {
        if (o.nPrompt > 0) {
            const tokens = Array.from({ length: o.nPrompt }, random);
            await seq.clearHistory();
            pp.push(o.nPrompt / await time(() => prompt(tokens)));
        }
        if (o.nGen > 0) {
            await seq.clearHistory();
            tg.push(o.nGen / await generate(o.nGen));
        }
    }
    const settings = { threads: context.currentThreads ?? o.threads, n_prompt: o.nPrompt, n_gen: o.nGen, reps: o.reps,
        batch_size: context.batchSize, context_size: context.contextSize, flash_attention: false,
        kv_cache_type: "F16", llama_cpp: llama.llamaCppRelease.release, node_llama_cpp: "3.21.1" };
    await context.dispose();
    const [p, t] = [meanSd(pp), meanSd(tg)];
    return { pp_mean: p.mean, pp_sd: p.sd, tg_mean: t.mean, tg_sd: t.sd, pp_samples: pp, tg_samples: tg, settings };
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const text = o.textFile === null ? "" : fs.readFileSync(o.textFile, "utf8");
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
        ...(o.mode === "bench" && { maxThreads: o.threads }),
        logger: (level, message) => llamaLog.push(`[llama.cpp ${level}] ${message}`) });
    const model = await llama.loadModel({
        modelPath: o.model, gpuLayers: 0, vocabOnly: o.mode === "tokenize",
    }).catch((e) => fail(`cannot load ${o.model}: ${e.message}`));

    let result;
    if (o.mode === "tokenize") {
        result = { tokens: tokenize(model, text) };
    } else if (o.mode === "bench") {
        result = await bench(llama, model, o);
    } else {
        const ctx = o.ctx ?? o.maxTokens;
        const tokens = tokenize(model, text).slice(0, Math.min(o.maxTokens, ctx));
        if (tokens.length < 2) fail("need at least 2 tokens for logprobs");
        const context = await model.createContext({
            contextSize: ctx, batchSize: Math.min(o.batch ?? ctx, ctx), threads: 2, sequences: 1, flashAttention: false,
            ...(o.kvF32 && { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" }),
        });
        // Ask for the full next-token distribution after every token but the last.
        // temperature 0 -> the sampler chain is only llama.cpp's greedy sampler, which does not
        // touch the logits; the addon then softmaxes all n_vocab logits (float32).
        const input = tokens.map((t, i) => i + 1 < tokens.length
            ? [t, { generateNext: { probabilities: true, options: { temperature: 0 } } }]
            : t);
        const out = await context.getSequence().controlledEvaluate(input);
        const nVocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
        const logprobs = [];
        for (let i = 0; i + 1 < tokens.length; i++) {
            const probs = out[i]?.next?.probabilities;
            if (!probs || probs.size !== nVocab)
                fail(`position ${i}: got ${probs?.size} probabilities, expected n_vocab = ${nVocab}`);
            // float32 probability; 0 (underflow, p < ~1e-45) gives -Infinity, written as null.
            logprobs.push(Math.log(probs.get(tokens[i + 1]) ?? 0));
        }
        result = { tokens, logprobs };
        await context.dispose();
    }
    const json = JSON.stringify(result);
    if (o.jsonOut) fs.writeFileSync(o.jsonOut, json + "\n");
    else process.stdout.write(json + "\n");
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => fail(e?.stack ?? String(e)));
