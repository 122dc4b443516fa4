// cli/preset.c -- the table of the official configurations (see preset.h).
#include "preset.h"

#include <string.h>

static const Preset presets[] = {
    // Marco-o1 (7B): full fine-tune (finetuning_type: full)
    {"marco", .lambda = 2, .k = 16, .lr = 2e-7, .cutoff = 3072, .train_layers = 0, .prompt_sample = "marco-eval",
     .prompt_train = "marco-train"},
    // QwQ-32B-Preview: freeze-tune, the last 48 layers trained (freeze_trainable_layers: 48)
    // (construct_dataset.py poses both models' training problems alike: marco-train's text)
    {"qwq", .lambda = 5, .k = 12, .lr = 2e-6, .cutoff = 4096, .train_layers = 48, .prompt_sample = "qwq",
     .prompt_train = "marco-train"},
};

const Preset *preset_find(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}
