// cli/preset.h -- the official O1-Pruner configurations by name (`--preset marco|qwq` of
// presample and prune): the settings of the authors' two runs, from their repository
// (github.com/StarDewXXX/O1-Pruner): examples/math/Marco-7B.yaml and QwQ-32B.yaml, whose
// datasets name K and lambda ("Marco-train-K-16-alpha-2-k-2", built by
// o1_scripts/construct_dataset.py --K 16 --alpha 2), and o1_scripts/inference.py's prompts.
// A command applies the preset first; the options given on its command line override it,
// whatever their order.
#ifndef O1P_PRESET_H
#define O1P_PRESET_H

typedef struct {
    const char *name;
    double lambda;              // accuracy weight of the reward (construct_dataset.py --alpha)
    int k;                      // pre-samples per problem
    double lr;                  // prune's peak learning rate (learning_rate)
    int cutoff;                 // prune's tokens per row (cutoff_len)
    int train_layers;           // prune trains the last N layers (freeze_trainable_layers; 0: all)
    const char *prompt_sample;  // the prompt preset of presample and eval
    const char *prompt_train;   // the prompt preset of prune's rows
} Preset;

// The preset named name, NULL when there is none.
const Preset *preset_find(const char *name);

// The names for a usage message: "marco or qwq".
#define PRESET_NAMES "marco or qwq"

#endif
