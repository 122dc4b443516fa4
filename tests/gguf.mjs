// tests/gguf.mjs -- `o1p export --format gguf` run by the real llama.cpp (node-llama-cpp
// with its prebuilt CPU binary). For each model folder, exported as f32, f16 and q8_0:
//   tokens    llama.cpp's tokenization of each text equals `o1p tok encode`'s;
//   greedy    llama.cpp's greedy continuation (64 tokens, or up to <|im_end|>) of a chat
//             prompt: each of its tokens is the argmax of o1p's logits on the same prefix
//             (`o1p dump`), the same ids, not just text, and its text is `o1p generate`'s.
//             Where o1p's top two tokens tie within PROB_TOL (the arithmetic of the two
//             differs by that much) either may be picked: the tie is reported and the
//             texts are compared up to it;
//   probs     llama.cpp's next-token probabilities at every position of prompt +
//             continuation match the softmax of o1p's logits: max |p - q| <= PROB_TOL.
// f32 is asserted; f16 and q8_0 are reported (tokens matched, max |p - q|). The KV cache
// is F32 so that f32 compares f32 arithmetic with f32 arithmetic.
// Usage: node tests/gguf.mjs O1P WORKDIR MODEL_DIR...   (run by tests/test_gguf.sh)
// Prints "N passed, N failed" last; exits non-zero on any failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), 'node/'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));
const [o1p, work, ...models] = process.argv.slice(2);
const N_NEW = 64;
// f32: llama.cpp's CPU arithmetic is the coarser side: on the demo's reference it is
// 9e-5 off o1p already at the first position (no RoPE, no attention mixing, KV cache in
// F32, with or without flash attention) and up to 9.3e-4 later, where o1p's ref and cpu
// backends agree to 2e-7. A wrong layout gives differences of order 1.
const PROB_TOL = 2e-3;

let passed = 0, failed = 0;
function check(ok, msg) {
  if (ok) passed++;
  else { failed++; console.error('FAIL ' + msg); }
}

const SYSTEM = 'You are a helpful assistant. You should think step-by-step and put your final answer within \\boxed{}.';
const chat = (q) => `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`;
const PROMPT = chat('Compute 17 + 25 - 9.');
const TEXTS = [PROMPT, 'Hello world, 12345 + 678 = ?  tabs\tand\nnewlines\n\n  end.',
  "Let's check: it's (3*4)^2 = 144; don't stop. \\boxed{144}", 'naïve café, 日本語, émoji 😀 <|endoftext|>'];

const o1pRun = (args, input) => execFileSync(o1p, args, { input, maxBuffer: 1 << 28 }).toString();
const o1pEncode = (dir, text) => o1pRun(['tok', 'encode', '--tokenizer', path.join(dir, 'tokenizer.json')], text)
  .trim().split(/\s+/).filter(Boolean).map(Number);

// o1p's logits [T, V] of one token line, through `o1p dump` (safetensors "logits.0").
function o1pLogits(dir, ids) {
  const tok = path.join(work, 'line.txt'), out = path.join(work, 'dump.safetensors');
  fs.writeFileSync(tok, ids.join(' ') + '\n');
  o1pRun(['dump', '--model', dir, '--tokens', tok, '--out', out]);
  const b = fs.readFileSync(out), n = Number(b.readBigUInt64LE(0));
  const t = JSON.parse(b.subarray(8, 8 + n).toString())['logits.0'];
  const [T, V] = t.shape, f = new Float32Array(T * V);
  for (let i = 0; i < T * V; i++) f[i] = b.readFloatLE(8 + n + t.data_offsets[0] + 4 * i);
  return Array.from({ length: T }, (_, i) => f.subarray(i * V, (i + 1) * V));
}
const softmax = (l) => {
  let m = -Infinity, s = 0;
  for (const x of l) m = Math.max(m, x);
  const p = Array.from(l, (x) => Math.exp(x - m));
  for (const x of p) s += x;
  return p.map((x) => x / s);
};
const argmax = (l) => l.reduce((b, x, i) => (x > l[b] ? i : b), 0);

const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' });

// llama.cpp's greedy continuation of ids (up to N_NEW tokens, ending at a stop id), then
// its probability maps at every position of ids + continuation.
async function llamaRun(model, ids, stops) {
  const ctx = await model.createContext({ contextSize: 256, batchSize: 256, threads: 2,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
  const seq = ctx.getSequence(), gen = [];
  for await (const t of seq.evaluate(ids, { temperature: 0 })) {
    gen.push(t);
    if (gen.length >= N_NEW || stops.includes(t)) break;
  }
  await seq.clearHistory();
  const all = [...ids, ...gen], opts = { temperature: 1, topK: 0, topP: 1, minP: 0 };
  const r = await seq.controlledEvaluate(all.map((t) => [t, { generateNext: { probabilities: true, options: opts } }]));
  await ctx.dispose();
  return { gen, probs: r.map((x) => x.next.probabilities) };
}

for (const dir of models) {
  const name = path.basename(dir);
  const expected = o1pRun(['generate', '--model', dir, '--raw', '--problem', PROMPT, '--max-new', String(N_NEW), '--quiet']);
  for (const type of ['f32', 'f16', 'q8_0']) {
    const file = path.join(work, `${name}-${type}.gguf`);
    o1pRun(['export', '--model', dir, '--format', 'gguf', '--type', type, '--out', file]);
    const model = await llama.loadModel({ modelPath: file });
    const stops = ['<|im_end|>', '<|endoftext|>'].map((s) => model.tokenize(s, true))
      .filter((t) => t.length === 1).map((t) => t[0]);
    const what = `${name} ${type}`;
    if (type === 'f32') {
      for (const text of TEXTS) {
        const a = Array.from(model.tokenize(text, true)), b = o1pEncode(dir, text);
        check(a.join(' ') === b.join(' '), `${what}: tokens of ${JSON.stringify(text)}: llama.cpp ${a} o1p ${b}`);
      }
    }
    const ids = o1pEncode(dir, PROMPT);
    const { gen, probs } = await llamaRun(model, ids, stops);
    const all = [...ids, ...gen], logits = o1pLogits(dir, all);
    // greedy: each of llama.cpp's tokens is o1p's argmax on the same prefix, or ties with
    // it within PROB_TOL (then the two may part there); o1p generate's text is the same up
    // to the first such tie
    let same = 0, tie = -1, bad = -1;
    for (let k = 0; k < gen.length && bad < 0; k++) {
      const q = softmax(logits[ids.length - 1 + k]), top = argmax(q);
      if (top === gen[k]) same++;
      else if (q[top] - q[gen[k]] <= PROB_TOL) tie = tie < 0 ? k : tie;
      else bad = k;
    }
    const upto = tie < 0 ? gen.length : tie;
    const text = model.detokenize(gen.slice(0, upto).filter((t) => !stops.includes(t)), false);
    const textOk = tie < 0 ? text + '\n' === expected : expected.startsWith(text);
    // probabilities at every position
    let maxd = 0;
    for (let i = 0; i < all.length; i++) {
      const q = softmax(logits[i]);
      for (let v = 0; v < q.length; v++) maxd = Math.max(maxd, Math.abs((probs[i].get(v) ?? 0) - q[v]));
    }
    console.log(`${what}: ${gen.length} tokens generated, ${same} equal to o1p's greedy choice` +
      (tie < 0 ? '' : ` (a tie within ${PROB_TOL} at token ${tie})`) + (bad < 0 ? '' : ` (o1p differs at token ${bad})`) +
      `; text ${textOk ? 'equal to' : 'differs from'} o1p generate's${tie < 0 ? '' : ' up to the tie'}; ` +
      `max |p - q| ${maxd.toExponential(2)} over ${all.length} positions`);
    if (type === 'f32') {
      check(bad < 0, `${what}: llama.cpp's token ${bad} (${gen[bad]}) is not o1p's argmax`);
      check(textOk, `${what}: llama.cpp ${JSON.stringify(text)}\n  o1p generate ${JSON.stringify(expected)}`);
      check(maxd <= PROB_TOL, `${what}: max |p - q| ${maxd} > ${PROB_TOL}`);
    }
    await model.dispose();
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
