// engine/optim.h -- AdamW with global gradient-norm clipping and a cosine schedule.
#ifndef O1P_OPTIM_H
#define O1P_OPTIM_H

#include "../base/err.h"
#include "../model/model.h"

typedef struct {
    float lr;            // peak learning rate
    float min_lr_ratio;  // the cosine decays to lr * min_lr_ratio
    float beta1, beta2, eps, weight_decay;
    float grad_clip;     // max global gradient norm; 0 disables clipping
    int warmup_steps;    // linear warmup from lr / warmup_steps
    int total_steps;     // the cosine spans warmup_steps .. total_steps
} OptimConfig;

// The defaults used by the stages: lr 3e-4, betas (0.9, 0.95), eps 1e-8, wd 0.1,
// clip 1.0, min ratio 0.1.
OptimConfig optim_defaults(void);
// The defaults with what a stage's options set: the peak rate, AdamW's beta2, weight
// decay, clip, the cosine's floor, and the schedule's warmup and total steps.
OptimConfig optim_config(double lr, double beta2, double weight_decay, double grad_clip, double min_lr_ratio,
                         int warmup_steps, int total_steps);

// ZeRO-1 on several ranks (docs/distributed.md): each rank holds the moments of a slice
// lo..lo+n of the trained floats (the gradient's layout) and updates that slice alone.
typedef struct {
    OptimConfig cfg;
    float *m, *v;   // backend memory, [n] each: the moments of the slice
    size_t lo, n;   // the slice of the n_trained floats (all of them: 0, n_trained)
    int step;       // optimizer steps taken
} Optimizer;

// The moments of all of m's trained parameters: model_alloc_grads first.
int optim_create(Optimizer *o, const Model *m, OptimConfig cfg, Err *e);
// Slice `rank` of `size` of n_trained floats (a model's): lo..lo+n (dist_share).
void optim_slice_of(size_t n_trained, int rank, int size, size_t *lo, size_t *n);
// The moments of slice `rank` of `size` of m's trained floats.
int optim_create_slice(Optimizer *o, const Model *m, OptimConfig cfg, int rank, int size, Err *e);
void optim_free(Optimizer *o, const Model *m);
// The part of trained range r inside o's slice into *out (its n_decay cut to match);
// returns 0 when they do not meet.
int optim_slice_range(const Optimizer *o, const TrainedRange *r, TrainedRange *out);
// Learning rate at 0-based step s: linear warmup over warmup_steps, then cosine from lr
// down to lr * min_lr_ratio at total_steps.
float optim_lr(const OptimConfig *c, int s);
// One update of the trained parameters of o's slice from the gradients accumulated in
// m->g (the slice's are zeroed afterwards). Returns the global gradient norm (over all
// the trained parameters, whatever the slice) before clipping; *lr_out gets the rate used.
double optim_step(Optimizer *o, Model *m, float *lr_out);

#endif
