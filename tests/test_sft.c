// tests/test_sft.c -- engine/tokset, engine/modeldir and the pure parts of engine/trainer: the chat
// template's token split, the training-text tokenizer, model-folder checks, data
// positions. (tests/test_sft.sh drives `o1p sft` end to end.)
#include <stdlib.h>
#include <string.h>

#include "../data/chat.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/trainer.h"
#include "test.h"

static Dataset make_data(void) {
    Dataset ds = {0};
    Err e;
    const char *sol[] = {"Step 1: 2 + 3 = 5.\nThe answer is \\boxed{5}.", "Step 1: 7 - 4 = 3.\nThe answer is \\boxed{3}.",
                         "Step 1: 6 * 2 = 12.\nThe answer is \\boxed{12}."};
    const char *prob[] = {"Start with 2. Add 3.", "Start with 7. Subtract 4.", "Start with 6. Multiply by 2."};
    const char *ans[] = {"5", "3", "12"};
    for (int i = 0; i < 3; i++) CHECK(!dataset_add(&ds, prob[i], ans[i], sol[i], 1, -1, &e), "dataset_add");
    return ds;
}

static void test_tokenize(void) {
    Err e;
    Dataset ds = make_data();
    Tokenizer *t = examples_train_tokenizer(&ds, NULL, 320, &e);
    CHECK(t != NULL, "examples_train_tokenizer: %s", t ? "" : e.msg);
    if (!t) return;
    ChatTokens ct;
    CHECK(!chat_tokens(t, "tok", &ct, &e), "chat_tokens: %s", e.msg);
    CHECK(ct.im_start >= 0 && ct.im_end >= 0 && ct.endoftext >= 0, "chat ids %d %d %d", ct.im_start, ct.im_end,
          ct.endoftext);
    TokSet s;
    CHECK(!examples_tokenize(t, &ds, "d.jsonl", NULL, 0, &s, &e), "examples_tokenize: %s", e.msg);
    CHECK(s.n == 3, "n = %d", s.n);
    int64_t pt = 0, ctot = 0;
    for (int i = 0; i < s.n; i++) {
        const TokExample *x = &s.ex[i];
        pt += x->prompt_len;
        ctot += x->completion_len;
        CHECK(x->prompt_len > 2 && x->prompt[0] == ct.im_start, "example %d: prompt starts with <|im_start|>", i);
        CHECK(x->completion_len > 1 && x->completion[x->completion_len - 1] == ct.im_end,
              "example %d: completion ends with <|im_end|>", i);
        int n_end = 0;
        for (int j = 0; j < x->completion_len; j++) n_end += x->completion[j] == ct.im_end;
        CHECK(n_end == 1, "example %d: one <|im_end|> in the completion (%d)", i, n_end);
        // prompt ++ completion decodes to the chat texts, byte for byte
        char *p = chat_prompt(NULL, ds.ex[i].problem), *c = chat_completion(ds.ex[i].solution), *d1, *d2;
        size_t l1, l2;
        CHECK(!tok_decode(t, x->prompt, (size_t)x->prompt_len, 0, &d1, &l1, &e) && !strcmp(d1, p),
              "example %d: prompt round trip", i);
        CHECK(!tok_decode(t, x->completion, (size_t)x->completion_len, 0, &d2, &l2, &e) && !strcmp(d2, c),
              "example %d: completion round trip", i);
        free(p);
        free(c);
        free(d1);
        free(d2);
    }
    CHECK(pt == s.prompt_tokens && ctot == s.completion_tokens, "token totals");
    CHECK(s.ids + s.n_ids == s.ex[2].completion + s.ex[2].completion_len, "ids back to back");
    tokset_free(&s);

    // prompts only: no solutions needed
    Dataset nosol = {0};
    CHECK(!dataset_add(&nosol, "Start with 1. Add 1.", "2", NULL, 0, -1, &e), "dataset_add");
    CHECK(!dataset_add(&nosol, "Start with 2. Add 1.", "3", "\\boxed{3}", 0, -1, &e), "dataset_add");
    CHECK(!examples_tokenize(t, &nosol, "q.jsonl", NULL, EX_PROMPTS_ONLY, &s, &e) && s.n == 2 &&
              s.ex[0].completion_len == 0 && s.ex[1].completion_len == 0,
          "prompts only");
    tokset_free(&s);
    CHECK(examples_tokenize(t, &nosol, "q.jsonl", NULL, 0, &s, &e) == -1 &&
              strstr(e.msg, "q.jsonl: example 1 has no \"solution\""),
          "missing solution: %s", e.msg);
    CHECK(s.ex == NULL && s.ids == NULL && s.n == 0, "left empty on error");

    // the tokenizer must fit the model's vocab
    Config c = {.vocab_size = tok_vocab_size(t)};
    CHECK(!tok_check_fits(t, "tok.json", &c, &e), "fits exactly");
    c.vocab_size = tok_vocab_size(t) + 64;
    CHECK(!tok_check_fits(t, "tok.json", &c, &e), "a padded model vocab fits");
    c.vocab_size = tok_vocab_size(t) - 1;
    CHECK(tok_check_fits(t, "tok.json", &c, &e) == -1 && strstr(e.msg, "tok.json: the tokenizer has"),
          "too small: %s", e.msg);
    dataset_free(&nosol);
    dataset_free(&ds);
    tok_free(t);
}

static void test_positions(void) {
    Trainer t = {0};
    int kept = 37;
    for (int64_t epoch = 0; epoch < 3; epoch++)
        for (int64_t pos = 0; pos < kept; pos += 5) {
            BatchPos p = {.epoch = epoch, .pos = pos};
            trainer_set_batch_pos(&t, p, kept);
            BatchPos q = trainer_batch_pos(&t, kept);
            CHECK(q.epoch == epoch && q.pos == pos, "position (%lld, %lld) round trip", (long long)epoch,
                  (long long)pos);
        }
    BatchPos end = {.epoch = 1, .pos = kept};  // the end of an epoch is the next one's start
    trainer_set_batch_pos(&t, end, kept);
    BatchPos q = trainer_batch_pos(&t, kept);
    CHECK(q.epoch == 2 && q.pos == 0, "epoch end -> (2, 0), got (%lld, %lld)", (long long)q.epoch, (long long)q.pos);
    StepMetrics sm = step_metrics();
    CHECK(isnan(sm.loss) && isnan(sm.eval_loss) && sm.tokens == 0, "step_metrics starts unknown");
}

int main(void) {
    test_tokenize();
    test_positions();
    return test_summary();
}
