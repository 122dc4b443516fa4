// cli/plot.h -- line, grouped-bar and scatter charts as PNG files, without Python.
//
// A Canvas is an RGB image; a chart fills a rectangle of it, so an image holds several
// panels. Text is stb_easy_font's bitmap glyphs, rasterised here at 2x; stb_image_write
// encodes the PNG, written atomically. Axes get ticks at 1, 2 or 5 x 10^k, a title,
// axis labels and a legend. `o1p plot` (cmd_plot.c) draws with it.
#ifndef O1P_PLOT_H
#define O1P_PLOT_H

#include "../base/err.h"

typedef struct {
    int w, h;
    unsigned char *rgb;  // [h, w, 3]
} Canvas;

int canvas_init(Canvas *c, int w, int h, Err *e);  // white
void canvas_free(Canvas *c);
int canvas_save_png(const Canvas *c, const char *path, Err *e);

// Text with its top-left at (x, y), scale s pixels per glyph unit. rotate: reading
// upwards, (x, y) the bottom-left. Returns the width drawn.
int canvas_text(Canvas *c, int x, int y, const char *text, const unsigned char color[3], int s, int rotate);
int text_width(const char *text, int s);

typedef struct {
    const char *name;  // legend entry
    const double *x;   // [n], NULL: 1..n; bar charts ignore it
    const double *y;   // [n]; NAN points are skipped
    int n;
} Series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const Series *series;
    int n_series;
    const char *const *groups;  // bar charts: the label of group g, series[i].y[g]
    int zero_based;             // include 0 in the y range
    double ymax;                // > 0: the y range is [0, ymax], e.g. 100 for percentages
    const double *ref;          // scatter: {x, y} of a reference point (NULL: none)
    const char *ref_name;       // its legend entry
} Chart;

// A chart's plot area in pixels (y0 the top) and the data ranges at its edges: the data
// point (x, y) is at pixel x0 + round((x - xlo) / (xhi - xlo) (x1 - x0)),
// y1 - round((y - ylo) / (yhi - ylo) (y1 - y0)).
typedef struct {
    int x0, y0, x1, y1;
    double xlo, xhi, ylo, yhi;
} PlotArea;

// Draws the chart in the rectangle (x, y, w, h) of c.
void chart_lines(Canvas *c, int x, int y, int w, int h, const Chart *ch);
void chart_bars(Canvas *c, int x, int y, int w, int h, const Chart *ch);
// Scatter: each point of series s a 7x7 square in colour s, centred on the point; the
// mean of the series' points a 15x15 square of that colour in a 2-pixel black border;
// the reference a black cross of 15x15 on grey guide lines through it. Both ranges are
// the data's and the reference's, widened by 5% a side (not below 0 for data that is not)
// and rounded out to ticks. The
// legend stands right of the plot area. Returns the plot area.
PlotArea chart_scatter(Canvas *c, int x, int y, int w, int h, const Chart *ch);

#endif
