// tests/test_plot.c -- the line chart's legend covers none of its data (cli/plot.h).
//
// A point is drawn as a 7x7 square in its series' colour, a line as 2-pixel dots, and
// the legend last, opaque, at the top right with a 14x12 swatch per series. So every
// point of a series whose consecutive points are far apart and joined by gentle slopes is
// exactly one solid 7x7 square whose top-left corner starts no other solid square: the
// count of such corners is the visible points plus the swatch. A point under the legend
// loses its square.
#include <stdlib.h>
#include <string.h>

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
    Chart ch = {"mean length", "step", "tokens", s, 2, NULL, zero_based, 0};
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

int main(void) {
    test_legend_covers_no_point(0, 0);
    test_legend_covers_no_point(1, 0);
    test_legend_covers_no_point(0, 1000);  // a range far from zero
    return test_summary();
}
