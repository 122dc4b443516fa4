// cli/cmd_export.c -- `o1p export`: a model folder as one GGUF file for llama.cpp.
#include <stdio.h>
#include <string.h>

#include "../base/io.h"
#include "../export/gguf.h"
#include "cli.h"

// The folder's last path component, for general.name.
static const char *folder_name(const char *dir, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", dir);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    const char *slash = strrchr(buf, '/');
    return slash && slash[1] ? slash + 1 : buf;
}

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *format = NULL, *out = NULL, *type_name = "f32";
    Opt opts[] = {
        {"model", OPT_STR, &model, "model folder (config.json, model.safetensors, tokenizer.json)"},
        {"format", OPT_STR, &format, "output format: gguf (llama.cpp)"},
        {"out", OPT_STR, &out, "file to write"},
        {"type", OPT_STR, &type_name, "matrix type: f32 (default), f16 or q8_0"},
        {0},
    };
    int rc = opt_parse("export", "--model DIR --format gguf --out FILE.gguf [--type f32|f16|q8_0]", opts,
                       argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!model || !format || !out) return cli_usage_error("export", "--model, --format and --out are required");
    if (strcmp(format, "gguf")) return cli_usage_error("export", "--format %s: expected gguf", format);
    GgufType type;
    if (gguf_type_parse(type_name, &type))
        return cli_usage_error("export", "--type %s: expected f32, f16 or q8_0", type_name);
    Err e;
    if (output_check(out, &e)) return cli_fail(&e);
    ChatTemplate tmpl;  // the chat template: the one the folder's weights were trained under
    int recorded;
    ModelDir md;
    if (model_dir_template(model, &tmpl, &recorded, &e) || model_dir_load(&md, model, &kernels_cpu, 0, &e))
        return cli_fail(&e);
    char name[256];
    rc = gguf_export(&md, &tmpl, folder_name(model, name, sizeof name), type, out, &e);
    if (!rc) printf("wrote %s (%s, %s)\n", out, md.m.cfg.model_type, type_name);
    model_dir_free(&md);
    return rc ? cli_fail(&e) : 0;
}
