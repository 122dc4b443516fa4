// engine/sampler.h -- batched sampling with a KV cache and continuous batching.
//
// A run takes an array of requests (a prompt, K samples, the sampling settings) and
// decodes up to `slots` sequences together. Each step of the model carries, in this order,
// the prompt tokens being prefilled (no logits needed), then one token per slot whose next
// token is wanted: the last prompt token of a new sequence or the last sampled token of a
// running one (model_decode_step computes logits only for those). A finished sequence
// leaves its slot at once and the next waiting sample takes it (continuous batching).
//
// Prompt sharing: the K samples of one request share one prefill and one copy of the
// prompt's keys and values. The first sample admitted prefills the prompt into its slot;
// a sibling admitted in the same step reads positions 0..P-1 from that slot (the decode
// step's prefix slots) and samples its first token from the same logits row; a sibling
// admitted later reads positions 0..P-2 there and recomputes the last prompt token in
// its own slot (bitwise the same logits: the kernel contract makes a row's result
// independent of the other rows in a call and of where its keys live). A slot whose
// sample is done stays held while siblings read its prompt. Only when no sibling is
// left in the cache is the prompt prefilled again.
//
// Determinism: sample j of a request draws from its own stream rng_derive(seed, id, j),
// and every logits row depends on its own sequence only, so a sample's tokens do not
// depend on the number of slots, the thread count, or which other requests share the run.
// (That needs the backend's row independence, which the CPU matmul keeps up to 64 rows a
// call: a larger step is cut into calls of at most 64 rows; see sampler.c.)
//
// Sampling one token from logits l[V]:
//   temperature 0   greedy: argmax, ties to the lowest id, and its log-prob, on the backend
//                   (argmax_logprob): the logits row never comes to the host;
//   otherwise       p_i ~ exp((l_i - max l) / T); then top-k (keep the k most probable,
//                   ties by lower id), then top-p (sort by probability descending, ties by
//                   lower id; keep the smallest prefix whose mass is >= p of the kept
//                   mass); draw from what is left, renormalised. A temperature alone:
//                   the backend draws (temperature_draws, the uniform from the
//                   sample's stream). Top-p or top-k: the backend finds the tokens that
//                   can be kept (sampling_candidates: the k largest logits, or with
//                   top-p alone those with p_i >= (1 - p) / 2V) and only they come to
//                   the host, which sorts and draws. A logits row never comes whole.
// Whatever the settings, a sample's mean log-prob is that of its generated tokens under
// the model at temperature 1: mean over tokens of log_softmax(l)[token].
//
// All buffers are planned at creation; a step allocates nothing.
#ifndef O1P_SAMPLER_H
#define O1P_SAMPLER_H

#include <stdint.h>

#include "../base/err.h"
#include "../base/rng.h"
#include "../model/model.h"

// One prompt to sample from. The prompt ids are referenced, not copied: they must stay
// valid until sampler_run returns.
typedef struct {
    const int32_t *prompt;  // [prompt_len] host token ids
    int prompt_len;         // >= 1
    int k;                  // samples of this prompt, >= 1
    int max_new;            // most tokens generated per sample, >= 1
    float temperature;      // 0 = greedy
    int top_k;              // 0 = off
    float top_p;            // >= 1 = off; in (0, 1]
    uint64_t seed;          // sample j draws from rng_derive(seed, id, j)
    uint64_t id;            // e.g. the problem index
} SampleRequest;

// A finished sample, handed to on_sample. ids point into the sampler's buffers and are
// valid only during the callback.
typedef struct {
    int request;          // index into the request array given to sampler_run
    int sample;           // 0..k-1
    const int32_t *ids;   // the generated tokens, the stop token included when finished
    int n;                // their count (the length L of the paper)
    int finished;         // ended with a stop token
    int truncated;        // ended at max_new or at the end of the context
    double mean_logprob;  // mean over the n tokens of log softmax(logits)[token] at T = 1
    double sum_logprob;
} SampleResult;

// Tokens of a sample's solution: its n generated tokens less the stop token that ended
// it (none when truncated). The reward's L, the pre-sample "length", eval's length.
int sample_solution_len(int n, int truncated);

// Progress counters (for progress bars), updated after every step.
typedef struct {
    uint64_t steps;
    uint64_t prompt_tokens;     // tokens prefilled (copied prefixes not counted)
    uint64_t tokens_generated;  // sampled tokens
    uint64_t samples_done;      // finished sequences
    uint64_t requests_done;     // requests whose K samples are all done
    uint64_t prefills_shared;   // prompts read from a sibling's slot instead of prefilled
} SamplerStats;

// Callbacks; any may be NULL. A callback returning non-zero stops the run
// (sampler_run returns 1); samples still running are dropped.
typedef struct {
    void *user;
    // A token was sampled for (request, sample) (streaming output).
    int (*on_token)(void *user, int request, int sample, int32_t token);
    // A sample finished.
    int (*on_sample)(void *user, const SampleResult *r);
    // After every step (progress).
    int (*on_step)(void *user, const SamplerStats *st);
} SamplerCallbacks;

typedef struct {
    int slots;          // sequences decoded together (default 16)
    int max_len;        // positions per slot: prompt + generated (default and cap: the
                        // model's max_position_embeddings)
    int prefill_chunk;  // most prompt tokens prefilled in one step (default 256)
    const int32_t *stop_ids;  // tokens that end a sample (copied)
    int n_stop;               // at most SAMPLER_MAX_STOP
    int n_ids;  // ids that may be sampled: 0..n_ids-1, those the tokenizer can decode
                // (tok_vocab_size; 0: the whole vocab). A model's padded rows past them
                // are masked: as if their logits were -inf (never drawn, not in the
                // log-softmax).
} SamplerOpts;

#define SAMPLER_MAX_STOP 8

typedef struct Sampler Sampler;

// The positions per slot a run needs: its longest prompt + max_new (the context then
// never ends a sample before max_new does), at most the model's context ctx; max_new <= 0:
// ctx.
int sampler_max_len(int max_prompt, int max_new, int ctx);
// A request's new tokens: max_new, at most what max_len leaves after its prompt; max_new
// <= 0: all of that.
int sampler_new_tokens(int max_len, int prompt_len, int max_new);

// Plans the KV cache (slots x max_len positions) and every buffer on m's backend and
// host. m must outlive the sampler.
Sampler *sampler_create(Model *m, const SamplerOpts *o, Err *e);
void sampler_free(Sampler *s);
// What sampler_create(m, o) allocates, in bytes (its checks of o too): the KV cache's keys
// and values and its step buffers (kvcache_bytes) on m's backend; on the host the logits
// rows, the generated ids, the step's indices and a sampling scratch per thread.
typedef struct {
    size_t kv_cache, step, host;
} SamplerMemory;
int sampler_memory(const Model *m, const SamplerOpts *o, SamplerMemory *mem, Err *e);

// Checks a request against the sampler (prompt ids inside the vocab, prompt shorter
// than max_len, k >= 1, max_new >= 1, temperature >= 0, top_p in (0, 1], top_k >= 0);
// the message names the request index i.
int sampler_check(const Sampler *s, const SampleRequest *r, int i, Err *e);

// Samples every request (checked first: a bad request fails the run before any step).
// Returns 0 when all are done, 1 when a callback stopped it, -1 on error.
// Requests are admitted in order, their samples in order.
int sampler_run(Sampler *s, const SampleRequest *reqs, int n_reqs, const SamplerCallbacks *cb,
                Err *e);

// The counters of the current (or last) run.
const SamplerStats *sampler_stats(const Sampler *s);

// ---- one-token sampling (sample_token.c) ------------------------------------------------
// sample_token applies the rules above to a whole row on the host: the specification the
// sampler's backend paths are tested against (tests/test_sampler.c). The sampler draws
// with sample_from_candidates. Scratch for both: host buffers for a vocabulary of V (the
// ids that may be sampled: a logits row may be longer, its entries past V are masked).
typedef struct {
    double w;  // unnormalised probability
    int id;
    float logit;
} SampleCand;
typedef struct {
    int V;
    SampleCand *cand;  // [V]
} SampleScratch;

int sample_scratch_init(SampleScratch *sc, int V, Err *e);
void sample_scratch_free(SampleScratch *sc);
// Picks a token from logits[0..V) with the settings above, drawing (when T > 0) one
// rng_double from rng. Writes log softmax(logits)[token] at temperature 1 to *logprob
// (may be NULL).
int32_t sample_token(SampleScratch *sc, const float *logits, float temperature, int top_k,
                     float top_p, Rng *rng, double *logprob);
// The same draw at temperature > 0 with top-p < 1 or top-k, from the m candidates of a row
// (ids and logits in column order; z, lse1) that the backend's sampling_candidates gave for
// inv_t = 1.0 / temperature, cut = (1 - top_p) / 2V and top_k: the token and log-prob that
// sample_token gives for the whole row, bit for bit where the backend sums in column order.
int32_t sample_from_candidates(SampleScratch *sc, const int *ids, const float *cand, int m, double z,
                               double lse1, float temperature, int top_k, float top_p, Rng *rng,
                               double *logprob);

#endif
