#!/usr/bin/env node
// judge.mjs: real llama.cpp (through node-llama-cpp 3.21.1, CPU only) as an outside judge
// for the GGUF files lowbit writes. Tests compare its output with lowbit's own.
//
//   node tests/llamacpp/judge.mjs tokenize MODEL.gguf TEXTFILE [--json-out FILE]
//       -> {"tokens":[...]}  llama.cpp's tokenization of the file's text (special-token
//          text is NOT parsed), with BOS prepended when the vocab's add_bos flag is set,
//          as llama_tokenize(add_special=true) does. Loads the model vocab-only, so a
//          GGUF without tensors (e.g. ggml-vocab-llama-spm.gguf) works.
//   node tests/llamacpp/judge.mjs logprobs MODEL.gguf TEXTFILE [--ctx N] [--max-tokens M] [--kv-f32] [--json-out FILE]
//       -> {"tokens":[...], "logprobs":[...]}  tokens as above, cut to M (default 128) and to
//          the context size N (default M); logprobs[i] = ln P(tokens[i+1] | tokens[0..i]),
//          the full-vocabulary softmax of the raw logits (greedy sampler, temperature 0, no
//          penalties or biases), from one evaluation of the whole sequence in one context.
//          Flash attention is off: with it on, llama.cpp's CPU results depend on how many
//          tokens are in the batch (~4e-4 in logprob); off, position i's logprob does not
//          depend on --max-tokens or --ctx. The KV cache is F16 (llama.cpp's default);
//          --kv-f32 makes it F32: then blocks-F32.gguf matches a float64 forward pass to ~2e-6
//          (with F16 KV, to ~6e-4).
//
// Errors go to stderr with exit code 1. Threads: 2.
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

function parseArgs(argv) {
    const [mode, model, textFile, ...rest] = argv;
    if (!["tokenize", "logprobs"].includes(mode) || !model || !textFile)
        fail("usage: judge.mjs tokenize|logprobs MODEL.gguf TEXTFILE [--ctx N] [--max-tokens M] [--kv-f32] [--json-out FILE]");
    const opts = { mode, model, textFile, ctx: null, maxTokens: 128, jsonOut: null, kvF32: false };
    for (let i = 0; i < rest.length; i += 2) {
        const [flag, val] = [rest[i], rest[i + 1]];
        if (flag === "--kv-f32") { opts.kvF32 = true; i--; continue; }
        if (val === undefined) fail(`missing value for ${flag}`);
        if (flag === "--json-out") opts.jsonOut = val;
        else if (flag === "--ctx" || flag === "--max-tokens") {
            const n = Number(val);
            if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer, got ${val}`);
            opts[flag === "--ctx" ? "ctx" : "maxTokens"] = n;
        } else fail(`unknown option ${flag}`);
    }
    for (const f of [model, textFile])
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

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const text = fs.readFileSync(o.textFile, "utf8");
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
        logger: (level, message) => llamaLog.push(`[llama.cpp ${level}] ${message}`) });
    const model = await llama.loadModel({
        modelPath: o.model, gpuLayers: 0, vocabOnly: o.mode === "tokenize",
    }).catch((e) => fail(`cannot load ${o.model}: ${e.message}`));

    let result;
    if (o.mode === "tokenize") {
        result = { tokens: tokenize(model, text) };
    } else {
        const ctx = o.ctx ?? o.maxTokens;
        const tokens = tokenize(model, text).slice(0, Math.min(o.maxTokens, ctx));
        if (tokens.length < 2) fail("need at least 2 tokens for logprobs");
        const context = await model.createContext({
            contextSize: ctx, batchSize: ctx, threads: 2, sequences: 1, flashAttention: false,
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
