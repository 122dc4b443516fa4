// tests/test_plot.c -- the line chart's legend covers none of its data; the scatter
// chart puts its points, means and reference where PlotArea says; a saved PNG has the
// canvas's size (cli/plot.h).
//
// A point is drawn as a 7x7 square in its series' colour, a line as 2-pixel dots, and
// the legend last, opaque, at the top right with a 14x12 swatch per series. So every
// point of a series whose consecutive points are far apart and joined by gentle slopes is
// exactly one solid 7x7 square whose top-left corner starts no other solid square: the
// count of such corners is the visible points plus the swatch. A point under the legend
// loses its square.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/plot.h"
#include "test.h"

static const unsigned char BLUE[3] = {31, 119, 180}, ORANGE[3] = {255, 127, 14};  // PALETTE[0..1]

// Whether the 7x7 square with top-left corner (x, y) is all colour col.
static int solid(const Canvas *c, int x, int y, const unsigned char col[3]) {
    if (x < 0 || y < 0 || x + 7 > c->w || y + 7 > c->h) return 0;
    for (int j = y; j < y + 7; j++)
        for (int i = x; i < x + 7; i++)
            if (memcmp(c->rgb + ((size_t)j * c->w + i) * 3, col, 3)) return 0;
    return 1;
}

// Solid 7x7 squares of colour col not extending one to their left or above.
static int squares(const Canvas *c, const unsigned char col[3]) {
    int n = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            n += solid(c, x, y, col) && !solid(c, x - 1, y, col) && !solid(c, x, y - 1, col);
    return n;
}

// Two series of 6 points whose fifth is the highest, near the top right: where the legend
// sits unless the y range leaves room above the data.
static void test_legend_covers_no_point(int zero_based, double offset) {
    double a[6] = {10, 30, 20, 45, 92, 60}, b[6] = {5, 18, 28, 38, 88, 50};
    for (int i = 0; i < 6; i++) a[i] += offset, b[i] += offset;
    Series s[2] = {{"reference", NULL, a, 6}, {"O1-Pruner", NULL, b, 6}};
    Chart ch = {.title = "mean length", .xlabel = "step", .ylabel = "tokens", .series = s, .n_series = 2,
                .zero_based = zero_based};
    Canvas c;
    Err e;
    if (canvas_init(&c, 800, 500, &e)) {
        CHECK(0, "canvas: %s", e.msg);
        return;
    }
    chart_lines(&c, 0, 0, 800, 500, &ch);
    int na = squares(&c, BLUE), nb = squares(&c, ORANGE);
    CHECK(na == 7 && nb == 7,
          "line chart (zero_based %d, values +%g): every point visible besides the legend's "
          "swatch (squares: %d and %d, expected 7 and 7)", zero_based, offset, na, nb);
    canvas_free(&c);
}

static const unsigned char *pixel(const Canvas *c, int x, int y) { return c->rgb + ((size_t)y * c->w + x) * 3; }

static void area_xy(const PlotArea *a, double x, double y, int *px, int *py) {
    *px = a->x0 + (int)lround((x - a->xlo) / (a->xhi - a->xlo) * (a->x1 - a->x0));
    *py = a->y1 - (int)lround((y - a->ylo) / (a->yhi - a->ylo) * (a->y1 - a->y0));
}

// Two methods of three seeds and a reference: the ranges, each point's square, each
// mean's bordered square, the reference's cross and its guide line, and the PNG's size.
static void test_scatter(void) {
    double ax[3] = {100, 150, 200}, ay[3] = {50, 60, 70}, bx[3] = {300, 320, 340}, by[3] = {80, 82, 84};
    double ref[2] = {250, 75};
    Series s[2] = {{"ppo", ax, ay, 3}, {"dpo", bx, by, 3}};
    Chart ch = {.title = "accuracy against length", .xlabel = "tokens", .ylabel = "accuracy (%)", .series = s,
                .n_series = 2, .ref = ref, .ref_name = "reference"};
    Canvas c;
    Err e;
    if (canvas_init(&c, 1000, 500, &e)) {
        CHECK(0, "canvas: %s", e.msg);
        return;
    }
    PlotArea a = chart_scatter(&c, 0, 0, 1000, 500, &ch);
    // x: [100, 340] widened by 12 a side, out to the ticks of 50; y: [50, 84] by 1.7, ticks of 5
    CHECK(a.xlo == 50 && a.xhi == 400 && a.ylo == 45 && a.yhi == 90, "scatter ranges [%g, %g] x [%g, %g]", a.xlo,
          a.xhi, a.ylo, a.yhi);
    CHECK(a.x0 == 78 && a.y0 == 44 && a.y1 == 444 && a.x1 > 600 && a.x1 < 1000 - 150, "scatter plot area %d..%d x %d..%d",
          a.x0, a.x1, a.y0, a.y1);
    const unsigned char BLACK[3] = {0, 0, 0}, GUIDE[3] = {150, 150, 150};
    for (int i = 0; i < 3; i += 2) {  // the ends (the middle point lies under its mean)
        int px, py;
        area_xy(&a, ax[i], ay[i], &px, &py);
        CHECK(solid(&c, px - 3, py - 3, BLUE), "ppo point %d: a blue square at (%d, %d)", i, px, py);
        area_xy(&a, bx[i], by[i], &px, &py);
        CHECK(solid(&c, px - 3, py - 3, ORANGE), "dpo point %d: an orange square at (%d, %d)", i, px, py);
    }
    int mx, my;
    area_xy(&a, 150, 60, &mx, &my);
    CHECK(!memcmp(pixel(&c, mx + 5, my - 5), BLUE, 3) && !memcmp(pixel(&c, mx - 7, my), BLACK, 3) &&
              !memcmp(pixel(&c, mx + 7, my + 7), BLACK, 3) && memcmp(pixel(&c, mx + 8, my), BLACK, 3),
          "ppo mean at (%d, %d): 11x11 blue in a black border to +-7", mx, my);
    area_xy(&a, 320, 82, &mx, &my);
    CHECK(!memcmp(pixel(&c, mx - 5, my + 5), ORANGE, 3) && !memcmp(pixel(&c, mx, my - 7), BLACK, 3),
          "dpo mean at (%d, %d)", mx, my);
    int rx, ry;
    area_xy(&a, ref[0], ref[1], &rx, &ry);
    CHECK(!memcmp(pixel(&c, rx, ry), BLACK, 3) && !memcmp(pixel(&c, rx - 6, ry - 6), BLACK, 3) &&
              !memcmp(pixel(&c, rx + 6, ry - 6), BLACK, 3) && memcmp(pixel(&c, rx, ry - 6), BLACK, 3),
          "reference: a black cross at (%d, %d)", rx, ry);
    CHECK(!memcmp(pixel(&c, a.x0 + 2, ry), GUIDE, 3) && !memcmp(pixel(&c, rx, a.y0 + 2), GUIDE, 3),
          "reference: guide lines through it");
    char path[] = "/tmp/o1p_test_plot_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && canvas_save_png(&c, path, &e) == 0, "save PNG");
    unsigned char head[24] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(head, 1, 24, f) : 0;
    if (f) fclose(f);
    unlink(path);
    if (fd >= 0) close(fd);
    unsigned w = (unsigned)head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    unsigned h = (unsigned)head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
    CHECK(got == 24 && !memcmp(head, "\x89PNG", 4) && !memcmp(head + 12, "IHDR", 4) && w == 1000 && h == 500,
          "PNG header: %ux%u", w, h);
    canvas_free(&c);
}

int main(void) {
    test_legend_covers_no_point(0, 0);
    test_legend_covers_no_point(1, 0);
    test_legend_covers_no_point(0, 1000);  // a range far from zero
    test_scatter();
    return test_summary();
}
