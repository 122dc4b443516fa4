// tests/test_tokenizer.c -- byte-level BPE: training determinism, save/load, round trips
// (invalid UTF-8 included), special tokens, NFC, the pre-tokenizer patterns, bad input.
// Parity with HF tokenizers is tests/test_tok_parity.sh.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/io.h"
#include "../tokenizer/pretok.h"
#include "../tokenizer/tokenizer.h"
#include "../tokenizer/unicode.h"
#include "test.h"

static char *make_text(size_t *len) {
    static const char *words[] = {"the", "answer", "is", "\\boxed{42}", "Wait,", "let", "me",
                                  "check:", "3+4=7.", "It's", "café", "日本語", "😀", "x^2",
                                  "\n", "  ", "don't", "12345", "step", "so"};
    size_t cap = 300000, n = 0;
    char *s = malloc(cap);
    unsigned r = 7;
    while (n + 32 < cap) {
        r = r * 1103515245u + 12345u;
        if ((r >> 16) % 3) {  // a known fragment, or a random lowercase word
            const char *w = words[(r >> 8) % 20];
            size_t l = strlen(w);
            memcpy(s + n, w, l);
            n += l;
        } else {
            for (unsigned k = 0; k < 1 + (r >> 4) % 7; k++) {
                r = r * 1103515245u + 12345u;
                s[n++] = (char)('a' + (r >> 16) % 26);
            }
        }
        s[n++] = ' ';
    }
    *len = n;
    return s;
}

static int file_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    Err e;
    if (read_file(a, &x, &nx, &e) || read_file(b, &y, &ny, &e)) return 0;
    int same = nx == ny && !memcmp(x, y, nx);
    free(x), free(y);
    return same;
}

static int ids_contain(const TokIds *ids, int32_t id) {
    for (size_t i = 0; i < ids->n; i++)
        if (ids->ids[i] == id) return 1;
    return 0;
}

static void expect_load_error(const char *json, const char *needle) {
    Err e = {{0}};
    Tokenizer *t = tok_load_json(json, strlen(json), "bad.json", &e);
    CHECK(!t && strstr(e.msg, needle), "expected an error with \"%s\", got \"%s\"", needle, e.msg);
    tok_free(t);
}

static void test_train_save_load(void) {
    size_t len;
    char *text = make_text(&len);
    Err e;
    TokTrainOpts o = tok_train_defaults(600);
    Tokenizer *a = tok_train(text, len, &o, &e), *b = tok_train(text, len, &o, &e);
    CHECK(a && b, "train: %s", e.msg);
    if (!a || !b) return;
    CHECK(tok_vocab_size(a) == 600, "vocab size %d", tok_vocab_size(a));
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "/tmp/o1p_tok_a_%d.json", (int)getpid());
    snprintf(pb, sizeof pb, "/tmp/o1p_tok_b_%d.json", (int)getpid());
    CHECK(!tok_save(a, pa, &e) && !tok_save(b, pb, &e), "save: %s", e.msg);
    CHECK(file_equal(pa, pb), "training is deterministic (same file twice)");
    Tokenizer *c = tok_load(pa, &e);
    CHECK(c != NULL, "load: %s", e.msg);
    TokIds x = {0}, y = {0};
    CHECK(!tok_encode(a, text, len, 0, &x, &e) && c && !tok_encode(c, text, len, 0, &y, &e), "encode");
    CHECK(x.n == y.n && !memcmp(x.ids, y.ids, x.n * sizeof *x.ids), "saved+loaded encodes the same");
    CHECK(x.n < len / 2, "BPE compresses the training text (%zu ids for %zu bytes)", x.n, len);
    char *back;
    size_t blen;
    CHECK(!tok_decode(a, x.ids, x.n, 0, &back, &blen, &e) && blen == len && !memcmp(back, text, len),
          "round trip of the training text");
    free(back);
    // special tokens: looked up, split out, never produced by ordinary text
    int32_t im_end = tok_id(a, TOK_IM_END, strlen(TOK_IM_END));
    CHECK(im_end == 599 && tok_is_special(a, im_end), "<|im_end|> is the last id and special (%d)", im_end);
    CHECK(tok_id(a, TOK_ENDOFTEXT, strlen(TOK_ENDOFTEXT)) == 597, "<|endoftext|> id");
    const char *s = "a<|im_end|>b <|im_start|>";
    TokIds z = {0};
    tok_encode(a, s, strlen(s), 0, &z, &e);
    CHECK(ids_contain(&z, im_end) && ids_contain(&z, tok_id(a, TOK_IM_START, strlen(TOK_IM_START))),
          "specials are split out");
    z.n = 0;
    tok_encode(a, s, strlen(s), TOK_ENC_NO_SPECIAL, &z, &e);
    int any = 0;
    for (size_t i = 0; i < z.n; i++) any |= tok_is_special(a, z.ids[i]);
    CHECK(!any, "with TOK_ENC_NO_SPECIAL no special id appears");
    z.n = 0;
    tok_encode(a, text, len, TOK_ENC_NO_SPECIAL, &z, &e);
    any = 0;
    for (size_t i = 0; i < z.n; i++) any |= tok_is_special(a, z.ids[i]);
    CHECK(!any, "ordinary text never produces a special id");
    char *d;
    size_t dl;
    int32_t withsp[] = {im_end, tok_id(a, "a", 1)};
    CHECK(!tok_decode(a, withsp, 2, TOK_DEC_SKIP_SPECIAL, &d, &dl, &e) && dl == 1 && d[0] == 'a',
          "decode skips specials on request");
    free(d);
    // invalid UTF-8 round-trips byte for byte (NFC leaves invalid bytes alone)
    const char bad[] = "ok \xff\xc0\x80\xed\xa0\x80 \xe2\x82 caf\xc3\xa9 \xf4\x90\x80\x80\x80\n";
    z.n = 0;
    tok_encode(a, bad, sizeof bad - 1, 0, &z, &e);
    CHECK(!tok_decode(a, z.ids, z.n, 0, &d, &dl, &e) && dl == sizeof bad - 1 && !memcmp(d, bad, dl),
          "invalid UTF-8 round-trips");
    free(d);
    // decode errors
    int32_t oob[] = {5, 600};
    CHECK(tok_decode(a, oob, 2, 0, &d, &dl, &e) && strstr(e.msg, "600") && strstr(e.msg, "position 1"),
          "out-of-range id is an error naming it: %s", e.msg);
    int32_t neg[] = {-1};
    CHECK(tok_decode(a, neg, 1, 0, &d, &dl, &e) && strstr(e.msg, "-1"), "negative id: %s", e.msg);
    size_t tl;
    CHECK(!tok_token_bytes(a, 600, &tl) && tok_token_bytes(a, 'a', &tl), "tok_token_bytes range");
    // bad training options
    TokTrainOpts small = tok_train_defaults(100);
    CHECK(!tok_train(text, len, &small, &e) && strstr(e.msg, "vocab size"), "tiny vocab: %s", e.msg);
    free(x.ids), free(y.ids), free(z.ids), free(text);
    tok_free(a), tok_free(b), tok_free(c);
    unlink(pa), unlink(pb);
}

static void test_nfc(void) {
    struct { const char *in, *want; } cases[] = {
        {"cafe\xcc\x81", "caf\xc3\xa9"},                       // e + acute -> é
        {"\xe2\x84\xab", "\xc3\x85"},                          // Angstrom sign -> Å (singleton)
        {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"},  // Hangul L V T -> 각
        {"a\xcc\x80\xcc\x97", "\xc3\xa0\xcc\x97"},             // reorder: ccc 220 before 230, then compose
        {"q\xcc\x87\xcc\xa3", "q\xcc\xa3\xcc\x87"},            // q has no composite: only reordered
        {"\xff" "e\xcc\x81", "\xff\xc3\xa9"},                  // invalid byte passes through
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        size_t n;
        CHECK(!uni_nfc(cases[i].in, strlen(cases[i].in), &out, &n), "nfc");
        const char *got = out ? out : cases[i].in;
        size_t gl = out ? n : strlen(cases[i].in);
        CHECK(gl == strlen(cases[i].want) && !memcmp(got, cases[i].want, gl), "NFC case %zu", i);
        free(out);
    }
    char *out;
    size_t n;
    CHECK(!uni_nfc("plain ascii", 11, &out, &n) && !out, "quick check passes NFC text through");
}

// The pieces of s under pattern p, joined by '|'.
static void pieces(TokPretok p, const char *s, char *out) {
    size_t n = strlen(s), k = 0;
    for (size_t pos = 0; pos < n;) {
        size_t l = pretok_next(p, (const unsigned char *)s, n, pos);
        if (pos) out[k++] = '|';
        memcpy(out + k, s + pos, l);
        k += l, pos += l;
    }
    out[k] = 0;
}

static void test_pretok(void) {
    struct { TokPretok p; const char *in, *want; } cases[] = {
        {TOK_PRE_GPT2, "Hello  world's 12345!!", "Hello| | world|'s| 12345|!!"},
        {TOK_PRE_GPT2, "a \n\n b", "a| \n\n| b"},
        {TOK_PRE_GPT2, "x\t y  ", "x|\t| y|  "},
        {TOK_PRE_LLAMA3, "I'M 12345 ok\n\n  x", "I|'M| |123|45| ok|\n\n| | x"},
        {TOK_PRE_LLAMA3, "a.\r\n\r\nb", "a|.\r\n\r\n|b"},
        {TOK_PRE_LLAMA3, "x 'ſ", "x| '|\xc5\xbf"},
        {TOK_PRE_LLAMA3, "'\xc5\xbf", "'\xc5\xbf"},
        {TOK_PRE_QWEN2, "42 \xc2\xa0" "abc", "4|2| |\xc2\xa0" "abc"},
        {TOK_PRE_QWEN2, "\xe3\x80\x80\xe3\x80\x80x", "\xe3\x80\x80|\xe3\x80\x80x"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pieces(cases[i].p, cases[i].in, buf);
        CHECK(!strcmp(buf, cases[i].want), "pretok case %zu: got \"%s\"", i, buf);
    }
    CHECK(pretok_from_pattern(pretok_pattern[TOK_PRE_LLAMA3]) == TOK_PRE_LLAMA3, "pattern lookup");
    CHECK(pretok_from_pattern("\\w+") == -1, "unknown pattern");
}

#define HEAD "{\"added_tokens\": [], \"normalizer\": null, "
#define BL "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, "

static void test_bad_input(void) {
    expect_load_error(HEAD BL "\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}",
                      "unknown model type \"WordPiece\"");
    expect_load_error(HEAD "\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": "
                           "\"BPE\", \"vocab\": {}, \"merges\": []}}",
                      "unknown pre-tokenizer type \"Whitespace\"");
    expect_load_error(HEAD "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                           "\"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Isolated\"}, "
                           "{\"type\": \"ByteLevel\", \"use_regex\": false}]}, \"model\": {\"type\": "
                           "\"BPE\", \"vocab\": {}, \"merges\": []}}",
                      "unknown Split pattern");
    expect_load_error("{\"normalizer\": {\"type\": \"NFKC\"}, " BL
                      "\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
                      "unknown normalizer type \"NFKC\"");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, "
                              "\"merges\": [\"a b\"]}}",
                      "merge 0 names a token not in the vocab: \"ab\"");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"zz\"]]}}",
                      "not in the vocab: \"zz\"");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      "no token for the byte 0x00");
    expect_load_error("{\"model\": [1, 2,]}", "bad.json: line 1");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {}, \"merges\": []}}",
                      "dropout");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
                      "token id 0 is given twice in the vocab");
    expect_load_error(HEAD BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": []}}",
                      "line 1, column 168: expected a token id");
    expect_load_error("{\"added_tokens\": [{\"content\": \"x\"}], \"normalizer\": null, " BL
                      "\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
                      "expected an added token with an integer \"id\"");
    expect_load_error("[1]", "bad.json: expected a JSON object at the top level");
    expect_load_error("{\"normalizer\": null}", "bad.json: expected a \"model\" object");
    expect_load_error("{\"model\": {\"type\": \"BPE\"}}", "expected a \"vocab\" object in the model");
    Err e;
    CHECK(!tok_load("/nonexistent/tokenizer.json", &e) && strstr(e.msg, "/nonexistent"), "missing file: %s", e.msg);
    // ids as text (o1p tok decode)
    TokIds ids = {0};
    CHECK(!tok_parse_ids(" 1\t-2\n30 \r\n", "in", &ids, &e) && ids.n == 3 && ids.ids[0] == 1 &&
              ids.ids[1] == -2 && ids.ids[2] == 30,
          "parse ids: %s", e.msg);
    CHECK(tok_parse_ids("4 5x", "in", &ids, &e) && !strcmp(e.msg, "in: byte 3: expected a token id"),
          "bad id: %s", e.msg);
    CHECK(tok_parse_ids("99999999999", "in", &ids, &e) && strstr(e.msg, "byte 0"), "id out of range: %s", e.msg);
    free(ids.ids);
    // an added token on another token's id
    expect_load_error("{\"added_tokens\": [{\"id\": 0, \"content\": \"<|x|>\", \"special\": true}], "
                      "\"normalizer\": null, " BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      "the added token \"<|x|>\" has id 0, which the vocab gives to \"a\"");
    // training text: not empty, UTF-8
    CHECK(tok_check_text("", 0, "t.txt", &e) && strstr(e.msg, "t.txt: empty"), "empty text: %s", e.msg);
    CHECK(tok_check_text("ab\xc3", 3, "t.txt", &e) && strstr(e.msg, "t.txt: byte offset 2: 0xC3"), "torn UTF-8: %s",
          e.msg);
    CHECK(!tok_check_text("h\xc3\xa9", 3, "t.txt", &e), "valid UTF-8: %s", e.msg);
}

int main(void) {
    test_train_save_load();
    test_nfc();
    test_pretok();
    test_bad_input();
    return test_summary();
}
