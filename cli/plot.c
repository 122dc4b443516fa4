// cli/plot.c -- PNG charts (see plot.h): a tiny RGB rasteriser (filled rectangles,
// 2-pixel Bresenham lines, stb_easy_font text), framed line, grouped-bar and scatter charts.
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop
#include <stb/stb_image_write.h>

#include "../base/io.h"

static const unsigned char BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, AXIS[3] = {90, 90, 90};
// Tableau-like palette: distinguishable, and readable in grey.
#define N_COLORS 10
static const unsigned char PALETTE[N_COLORS][3] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},
                                                   {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                                                   {227, 119, 194}, {23, 190, 207}, {188, 189, 34},
                                                   {127, 127, 127}};

int canvas_init(Canvas *c, int w, int h, Err *e) {
    c->w = w;
    c->h = h;
    c->rgb = malloc((size_t)w * h * 3);
    if (!c->rgb) return err_fmt(e, "out of memory for a %dx%d image", w, h);
    memset(c->rgb, 255, (size_t)w * h * 3);
    return 0;
}

void canvas_free(Canvas *c) {
    free(c->rgb);
    c->rgb = NULL;
}

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} MemBuf;

static void mem_write(void *ctx, void *data, int size) {
    MemBuf *b = ctx;
    if (b->oom) return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = 2 * (b->n + (size_t)size);
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

int canvas_save_png(const Canvas *c, const char *path, Err *e) {
    MemBuf b = {0};
    int ok = stbi_write_png_to_func(mem_write, &b, c->w, c->h, 3, c->rgb, c->w * 3);
    int rc = 0;
    if (!ok || b.oom)
        rc = err_fmt(e, "%s: PNG encoding failed", path);
    else
        rc = write_file_atomic(path, b.p, b.n, e);
    free(b.p);
    return rc;
}

static void fill(Canvas *c, int x0, int y0, int x1, int y1, const unsigned char col[3]) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) memcpy(c->rgb + ((size_t)y * c->w + x) * 3, col, 3);
}

// A line of thickness 2 (Bresenham, a 2x2 dot per step).
static void line(Canvas *c, int x0, int y0, int x1, int y1, const unsigned char col[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        fill(c, x0, y0, x0 + 2, y0 + 2, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

int text_width(const char *text, int s) { return s * stb_easy_font_width((char *)text); }

int canvas_text(Canvas *c, int x, int y, const char *text, const unsigned char color[3], int s, int rotate) {
    // stb_easy_font: a quad is 4 vertices of 16 bytes (x, y, z floats, rgba); a glyph
    // takes at most about 16 quads
    static char buf[64 * 16 * 256];
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", text);
    int nq = stb_easy_font_print(0, 0, tmp, NULL, buf, sizeof buf);
    for (int q = 0; q < nq; q++) {
        const float *v0 = (const float *)(buf + q * 64), *v2 = (const float *)(buf + q * 64 + 32);
        int u0 = (int)lroundf(v0[0] * s), w0 = (int)lroundf(v0[1] * s);
        int u1 = (int)lroundf(v2[0] * s), w1 = (int)lroundf(v2[1] * s);
        if (!rotate)
            fill(c, x + u0, y + w0, x + u1, y + w1, color);
        else  // glyph x runs up the page, glyph y to the right
            fill(c, x + w0, y - u1, x + w1, y - u0, color);
    }
    return text_width(tmp, s);
}

// Ticks at multiples of 1, 2 or 5 x 10^k covering [lo, hi] with about n of them.
static double nice_step(double lo, double hi, int n) {
    double raw = (hi - lo) / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *out, size_t cap, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e5 || (fabs(v) < 1e-3 && v != 0))
        snprintf(out, cap, "%.1e", v);
    else {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(out, cap, "%.*f", dec, v);
    }
}

// The frame of a chart: title, axis labels, y ticks and grid; returns the plot area.
typedef PlotArea Frame;

static double frame_y(const Frame *f, double v) { return f->y1 - (v - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0); }
static int frame_x(const Frame *f, double v) {
    return f->x0 + (int)lround((v - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0));
}

static Frame frame(Canvas *c, int x, int y, int w, int h, const Chart *ch, double ylo, double yhi) {
    Frame f = {0};
    if (ch->ymax > 0) ylo = 0, yhi = ch->ymax;
    if (ch->zero_based) {
        if (ylo > 0) ylo = 0;
        if (yhi < 0) yhi = 0;
    }
    if (!(yhi > ylo)) {  // flat or empty: a unit range around the value
        double mid = isfinite(ylo) ? ylo : 0;
        ylo = mid - 0.5;
        yhi = mid + 0.5;
        if (ch->zero_based && mid >= 0 && ylo < 0) ylo = 0;
    }
    double step = nice_step(ylo, yhi, 5);
    f.ylo = floor(ylo / step + 1e-9) * step;
    f.yhi = ceil(yhi / step - 1e-9) * step;
    f.x0 = x + 78;
    f.x1 = x + w - 16;
    f.y0 = y + 44;
    f.y1 = y + h - 56;
    int tw = text_width(ch->title, 2);
    canvas_text(c, x + (w - tw) / 2 + 31, y + 12, ch->title, BLACK, 2, 0);
    if (ch->xlabel) canvas_text(c, (f.x0 + f.x1 - text_width(ch->xlabel, 2)) / 2, f.y1 + 32, ch->xlabel, BLACK, 2, 0);
    if (ch->ylabel) canvas_text(c, x + 6, (f.y0 + f.y1 + text_width(ch->ylabel, 2)) / 2, ch->ylabel, BLACK, 2, 1);
    for (double v = f.ylo; v <= f.yhi + step * 1e-6; v += step) {
        int py = (int)lround(frame_y(&f, v));
        fill(c, f.x0, py, f.x1, py + 1, GRID);
        char lab[32];
        fmt_tick(lab, sizeof lab, v, step);
        canvas_text(c, f.x0 - 6 - text_width(lab, 2), py - 6, lab, AXIS, 2, 0);
    }
    fill(c, f.x0 - 1, f.y0, f.x0 + 1, f.y1 + 1, AXIS);
    fill(c, f.x0 - 1, f.y1, f.x1, f.y1 + 2, AXIS);
    return f;
}

// The x axis of the plot area: the data range [xlo, xhi] at its edges, ticks at the
// multiples of a nice step within it.
static void x_axis(Canvas *c, Frame *f, double xlo, double xhi) {
    f->xlo = xlo, f->xhi = xhi;
    double step = nice_step(xlo, xhi, 6), xs = floor(xlo / step) * step;
    if (xs < xlo - 1e-9) xs += step;
    for (double v = xs; v <= xhi + 1e-9; v += step) {
        int px = frame_x(f, v);
        fill(c, px, f->y1, px + 1, f->y1 + 6, AXIS);
        char lab[32];
        fmt_tick(lab, sizeof lab, v, step);
        canvas_text(c, px - text_width(lab, 2) / 2, f->y1 + 10, lab, AXIS, 2, 0);
    }
}

// Room above the data for the legend box at the top right, so that it covers no data:
// 7% of the data's span per row, plus one row of margin.
static double legend_headroom(const Chart *ch, double span) { return 0.07 * (ch->n_series + 1) * span; }

static void legend(Canvas *c, const Frame *f, const Chart *ch) {
    if (ch->n_series < 2) return;
    int w = 0;
    for (int i = 0; i < ch->n_series; i++) {
        int tw = text_width(ch->series[i].name, 2);
        if (tw > w) w = tw;
    }
    int bx = f->x1 - w - 40, by = f->y0 + 6, bh = 20 * ch->n_series + 8;
    static const unsigned char WHITE[3] = {255, 255, 255};
    fill(c, bx - 1, by - 1, f->x1 - 5, by + bh + 1, AXIS);
    fill(c, bx, by, f->x1 - 6, by + bh, WHITE);
    for (int i = 0; i < ch->n_series; i++) {
        int ly = by + 6 + 20 * i;
        fill(c, bx + 6, ly + 1, bx + 20, ly + 13, PALETTE[i % N_COLORS]);
        canvas_text(c, bx + 26, ly, ch->series[i].name, BLACK, 2, 0);
    }
}

void chart_lines(Canvas *c, int x, int y, int w, int h, const Chart *ch) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < ch->n_series; s++)
        for (int i = 0; i < ch->series[s].n; i++) {
            double xv = ch->series[s].x ? ch->series[s].x[i] : i + 1, yv = ch->series[s].y[i];
            if (isnan(yv)) continue;
            xlo = fmin(xlo, xv), xhi = fmax(xhi, xv), ylo = fmin(ylo, yv), yhi = fmax(yhi, yv);
        }
    if (ch->n_series >= 2 && yhi > ylo) yhi += legend_headroom(ch, yhi - (ch->zero_based ? fmin(0, ylo) : ylo));
    Frame f = frame(c, x, y, w, h, ch, ylo, yhi);
    if (!isfinite(xlo)) xlo = 0, xhi = 1;
    if (xhi <= xlo) xhi = xlo + 1;
    x_axis(c, &f, xlo, xhi);
    for (int s = 0; s < ch->n_series; s++) {
        const Series *se = &ch->series[s];
        int have = 0, px0 = 0, py0 = 0, n_valid = 0;
        for (int i = 0; i < se->n; i++) n_valid += !isnan(se->y[i]);
        for (int i = 0; i < se->n; i++) {
            double xv = se->x ? se->x[i] : i + 1;
            if (isnan(se->y[i])) continue;
            int px = frame_x(&f, xv), py = (int)lround(frame_y(&f, se->y[i]));
            if (have) line(c, px0, py0, px, py, PALETTE[s % N_COLORS]);
            if (n_valid <= 40) fill(c, px - 3, py - 3, px + 4, py + 4, PALETTE[s % N_COLORS]);
            have = 1, px0 = px, py0 = py;
        }
    }
    legend(c, &f, ch);
}

void chart_bars(Canvas *c, int x, int y, int w, int h, const Chart *ch) {
    int G = ch->series[0].n;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < ch->n_series; s++)
        for (int g = 0; g < G; g++)
            if (!isnan(ch->series[s].y[g])) ylo = fmin(ylo, ch->series[s].y[g]), yhi = fmax(yhi, ch->series[s].y[g]);
    // room above the tallest bar for the legend and the bars' value labels
    if (isfinite(yhi)) yhi += legend_headroom(ch, yhi - fmin(0, ylo));
    Frame f = frame(c, x, y, w, h, ch, ylo, yhi);
    double gw = (double)(f.x1 - f.x0) / G, bw = gw * 0.8 / ch->n_series;
    int zero = (int)lround(frame_y(&f, 0));
    for (int g = 0; g < G; g++) {
        int gx = f.x0 + (int)lround(g * gw);
        const char *lab = ch->groups[g];
        canvas_text(c, gx + (int)(gw / 2) - text_width(lab, 2) / 2, f.y1 + 10, lab, AXIS, 2, 0);
        for (int s = 0; s < ch->n_series; s++) {
            double v = ch->series[s].y[g];
            if (isnan(v)) continue;
            int bx0 = gx + (int)lround(gw * 0.1 + s * bw), bx1 = gx + (int)lround(gw * 0.1 + (s + 1) * bw) - 2;
            int py = (int)lround(frame_y(&f, v));
            fill(c, bx0, py < zero ? py : zero, bx1, py < zero ? zero : py, PALETTE[s % N_COLORS]);
            char val[32];
            snprintf(val, sizeof val, "%.0f", v);
            int vs = text_width(val, 1) * 2 <= bx1 - bx0 + 8 ? 2 : 1;
            canvas_text(c, (bx0 + bx1) / 2 - text_width(val, vs) / 2, py - 8 * vs, val, BLACK, vs, 0);
        }
    }
    legend(c, &f, ch);
}

// The scatter chart's markers, centred on (px, py).
static void mark_point(Canvas *c, int px, int py, const unsigned char col[3]) {
    fill(c, px - 3, py - 3, px + 4, py + 4, col);
}
static void mark_mean(Canvas *c, int px, int py, const unsigned char col[3]) {
    fill(c, px - 7, py - 7, px + 8, py + 8, BLACK);
    fill(c, px - 5, py - 5, px + 6, py + 6, col);
}
static void mark_ref(Canvas *c, int px, int py) {
    line(c, px - 7, py - 7, px + 6, py + 6, BLACK);
    line(c, px - 7, py + 6, px + 6, py - 7, BLACK);
}

// The scatter legend in a box of width lw from (bx, by): a swatch per series, the
// reference's cross, and the two marker sizes.
static void scatter_legend(Canvas *c, int bx, int by, int lw, const Chart *ch) {
    static const unsigned char WHITE[3] = {255, 255, 255};
    int rows = ch->n_series + (ch->ref != NULL) + 2, bh = 22 * rows + 8;
    fill(c, bx - 1, by - 1, bx + lw + 1, by + bh + 1, AXIS);
    fill(c, bx, by, bx + lw, by + bh, WHITE);
    int ly = by + 6;
    for (int i = 0; i < ch->n_series; i++, ly += 22) {
        fill(c, bx + 6, ly + 1, bx + 20, ly + 13, PALETTE[i % N_COLORS]);
        canvas_text(c, bx + 30, ly, ch->series[i].name, BLACK, 2, 0);
    }
    if (ch->ref) {
        mark_ref(c, bx + 13, ly + 7);
        canvas_text(c, bx + 30, ly, ch->ref_name ? ch->ref_name : "reference", BLACK, 2, 0);
        ly += 22;
    }
    mark_point(c, bx + 13, ly + 7, AXIS);
    canvas_text(c, bx + 30, ly, "one seed", BLACK, 2, 0);
    mark_mean(c, bx + 13, ly + 22 + 7, AXIS);
    canvas_text(c, bx + 30, ly + 22, "mean of the seeds", BLACK, 2, 0);
}

// A data range widened by 5% a side (a unit around a single value); one that starts at 0
// or above stays non-negative (lengths, accuracies).
static void widen(double *lo, double *hi) {
    double pad = *hi > *lo ? 0.05 * (*hi - *lo) : 0.5;
    *lo = *lo >= 0 && *lo - pad < 0 ? 0 : *lo - pad;
    *hi += pad;
}

PlotArea chart_scatter(Canvas *c, int x, int y, int w, int h, const Chart *ch) {
    // pass 1: the ranges of the points and the reference
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < ch->n_series; s++)
        for (int i = 0; i < ch->series[s].n; i++) {
            double xv = ch->series[s].x[i], yv = ch->series[s].y[i];
            if (isnan(xv) || isnan(yv)) continue;
            xlo = fmin(xlo, xv), xhi = fmax(xhi, xv), ylo = fmin(ylo, yv), yhi = fmax(yhi, yv);
        }
    if (ch->ref) xlo = fmin(xlo, ch->ref[0]), xhi = fmax(xhi, ch->ref[0]), ylo = fmin(ylo, ch->ref[1]), yhi = fmax(yhi, ch->ref[1]);
    if (!isfinite(xlo)) xlo = ylo = 0, xhi = yhi = 1;
    widen(&xlo, &xhi);
    widen(&ylo, &yhi);
    double step = nice_step(xlo, xhi, 6);
    xlo = floor(xlo / step + 1e-9) * step, xhi = ceil(xhi / step - 1e-9) * step;
    // pass 2: the frame, the legend right of it
    int lw = text_width("mean of the seeds", 2);
    for (int s = 0; s < ch->n_series; s++)
        if (text_width(ch->series[s].name, 2) > lw) lw = text_width(ch->series[s].name, 2);
    if (ch->ref && ch->ref_name && text_width(ch->ref_name, 2) > lw) lw = text_width(ch->ref_name, 2);
    lw += 40;
    Frame f = frame(c, x, y, w - lw - 8, h, ch, ylo, yhi);
    x_axis(c, &f, xlo, xhi);
    scatter_legend(c, x + w - lw - 8, f.y0, lw, ch);
    // pass 3: the reference's guide lines, the points, the means on top
    if (ch->ref) {
        static const unsigned char GUIDE[3] = {150, 150, 150};
        int rx = frame_x(&f, ch->ref[0]), ry = (int)lround(frame_y(&f, ch->ref[1]));
        for (int px = f.x0; px < f.x1; px += 8) fill(c, px, ry, px + 4, ry + 1, GUIDE);
        for (int py = f.y0; py < f.y1; py += 8) fill(c, rx, py, rx + 1, py + 4, GUIDE);
    }
    for (int s = 0; s < ch->n_series; s++)
        for (int i = 0; i < ch->series[s].n; i++)
            if (!isnan(ch->series[s].x[i]) && !isnan(ch->series[s].y[i]))
                mark_point(c, frame_x(&f, ch->series[s].x[i]), (int)lround(frame_y(&f, ch->series[s].y[i])),
                           PALETTE[s % N_COLORS]);
    for (int s = 0; s < ch->n_series; s++) {
        double mx = 0, my = 0;
        int n = 0;
        for (int i = 0; i < ch->series[s].n; i++)
            if (!isnan(ch->series[s].x[i]) && !isnan(ch->series[s].y[i])) mx += ch->series[s].x[i], my += ch->series[s].y[i], n++;
        if (n) mark_mean(c, frame_x(&f, mx / n), (int)lround(frame_y(&f, my / n)), PALETTE[s % N_COLORS]);
    }
    if (ch->ref) mark_ref(c, frame_x(&f, ch->ref[0]), (int)lround(frame_y(&f, ch->ref[1])));
    return f;
}
