// cli/cmd_grade.c -- `o1p grade`: grades model responses against answers (data/grade.h).
// Input: JSONL, each line {"response": full text, "answer": the truth}. Output: JSONL, a
// line per input line in order, {"extracted": the boxed answer or null, "correct": bool};
// the accuracy on stdout.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../base/io.h"
#include "../base/json.h"
#include "../data/grade.h"

typedef struct {
    const char *data;  // the input file, for messages
    GradeMode mode;
    FILE *out;
    int n, correct;
} GradeRun;

static int grade_line(const JsonValue *v, int line, void *ctx, Err *e) {
    GradeRun *g = ctx;
    const char *response, *answer;
    (void)line;  // the getters' messages name the file and line
    if (json_get_string(v, "response", g->data, &response, e) || json_get_string(v, "answer", g->data, &answer, e))
        return -1;
    char *extracted = grade_extract_as(response, g->mode);
    int ok = grade_solution_as(response, answer, g->mode);
    fputs("{\"extracted\": ", g->out);
    if (extracted) json_write_string(g->out, extracted, strlen(extracted));
    else fputs("null", g->out);
    fprintf(g->out, ", \"correct\": %s}\n", ok ? "true" : "false");
    free(extracted);
    g->n++;
    g->correct += ok;
    return 0;
}

int cmd_grade(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *grader = "paper";
    Opt opts[] = {
        {"data", OPT_STR, &data, "JSONL, each line {\"response\": model text, \"answer\": ground truth}"},
        {"out", OPT_STR, &out, "JSONL to write, a line per input line: {\"extracted\", \"correct\"}"},
        CLI_GRADER_OPT(&grader),
        {0},
    };
    int rc = opt_parse("grade", "--data FILE.jsonl --out FILE.jsonl [--grader paper|lenient]", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!data || !out) return cli_usage_error("grade", "--data and --out are required");
    GradeRun g = {.data = data};
    if ((rc = cli_grader("grade", grader, &g.mode)) != OPT_RUN) return rc;
    Err e;
    char *text;
    size_t len;
    if (read_file(data, &text, &len, &e)) return cli_fail(&e);
    AtomicFile af;
    if (atomic_open(&af, out, &e)) {
        free(text);
        return cli_fail(&e);
    }
    g.out = af.f;
    rc = jsonl_parse(text, len, data, grade_line, &g, &e);
    free(text);
    if (rc) {
        atomic_abort(&af);
        return cli_fail(&e);
    }
    if (atomic_commit(&af, &e)) return cli_fail(&e);
    printf("accuracy %.4f (%d of %d)\n", g.n ? (double)g.correct / g.n : 0.0, g.correct, g.n);
    return 0;
}
