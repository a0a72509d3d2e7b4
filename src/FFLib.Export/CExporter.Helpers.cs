namespace FFLib.Export;

// The C helpers every export carries (the model's code calls them). Their own file: the exporter's
// logic stays readable in CExporter.cs.
public static partial class CExporter
{
    /// <summary>The helpers, emitted static; unused ones are marked so that -Wunused-function stays quiet.</summary>
    private const string Helpers = """
        #if defined(__GNUC__)
        #define FFLIB_MAYBE_UNUSED __attribute__((unused))
        #else
        #define FFLIB_MAYBE_UNUSED
        #endif

        /* y[r] = x . W[r][c0 .. c0+k-1], rows r of a row-major [rows][cols] matrix. */
        static FFLIB_MAYBE_UNUSED void matmul_f(const float *x, int k, const float *w, int cols, int c0, int rows, float *y)
        {
          int r, i;
          for (r = 0; r < rows; r++) {
            const float *row = w + (long)r * cols + c0;
            float acc = 0.0f;
            for (i = 0; i < k; i++) acc += row[i] * x[i];
            y[r] = acc;
          }
        }

        /* The same with int8 weights: y[r] = scale[r] * (q[r] . x). */
        static FFLIB_MAYBE_UNUSED void matmul_q(const float *x, int k, const int8_t *q, const float *scale, int cols, int c0, int rows, float *y)
        {
          int r, i;
          for (r = 0; r < rows; r++) {
            const int8_t *row = q + (long)r * cols + c0;
            float acc = 0.0f;
            for (i = 0; i < k; i++) acc += (float)row[i] * x[i];
            y[r] = scale[r] * acc;
          }
        }

        static FFLIB_MAYBE_UNUSED void add_column_f(const float *x, const float *w, int cols, int c, int rows, float *y)
        {
          int r;
          for (r = 0; r < rows; r++) y[r] = x[r] + w[(long)r * cols + c];
        }

        static FFLIB_MAYBE_UNUSED void add_column_q(const float *x, const int8_t *q, const float *scale, int cols, int c, int rows, float *y)
        {
          int r;
          for (r = 0; r < rows; r++) y[r] = x[r] + (float)q[(long)r * cols + c] * scale[r];
        }

        static FFLIB_MAYBE_UNUSED void add_vec(const float *a, const float *b, int n, float *y)
        {
          int j;
          for (j = 0; j < n; j++) y[j] = a[j] + b[j];
        }

        static FFLIB_MAYBE_UNUSED void relu(const float *x, int n, float *y)
        {
          int j;
          for (j = 0; j < n; j++) y[j] = x[j] > 0.0f ? x[j] : 0.0f;
        }

        static FFLIB_MAYBE_UNUSED void copy(const float *x, int n, float *y)
        {
          int j;
          for (j = 0; j < n; j++) y[j] = x[j];
        }

        static FFLIB_MAYBE_UNUSED float sum_squares(const float *x, int n)
        {
          int j;
          float acc = 0.0f;
          for (j = 0; j < n; j++) acc += x[j] * x[j];
          return acc;
        }

        /* max(x, 0) + log1p(exp(-|x|)), log1p by its series below 1e-4 (as the library computes it). */
        static FFLIB_MAYBE_UNUSED float softplus(float x)
        {
          const float e = expf(-fabsf(x));
          const float l = e < 1e-4f ? e - 0.5f * e * e : logf(1.0f + e);
          return (x > 0.0f ? x : 0.0f) + l;
        }


        /* y = W (*) x over an NHWC map (h x w x c): W [outc][k][k][c] row-major, zero padding pad, stride;
           y is oh x ow x outc, NHWC. */
        static FFLIB_MAYBE_UNUSED void conv2d_f(const float *x, const float *wt, int h, int w, int c, int k, int stride, int pad,
                                                int outc, int oh, int ow, float *y)
        {
          int oy, ox, o, ky, kx, i;
          for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++)
              for (o = 0; o < outc; o++) {
                float acc = 0.0f;
                for (ky = 0; ky < k; ky++) {
                  const int iy = oy * stride - pad + ky;
                  if (iy < 0 || iy >= h) continue;
                  for (kx = 0; kx < k; kx++) {
                    const int ix = ox * stride - pad + kx;
                    const float *px, *pw;
                    if (ix < 0 || ix >= w) continue;
                    px = x + ((long)iy * w + ix) * c;
                    pw = wt + (((long)o * k + ky) * k + kx) * c;
                    for (i = 0; i < c; i++) acc += pw[i] * px[i];
                  }
                }
                y[((long)oy * ow + ox) * outc + o] = acc;
              }
        }

        /* The same with int8 kernels, one scale per output channel: y = scale[o] * (q (*) x). */
        static FFLIB_MAYBE_UNUSED void conv2d_q(const float *x, const int8_t *q, const float *scale, int h, int w, int c, int k, int stride, int pad,
                                                int outc, int oh, int ow, float *y)
        {
          int oy, ox, o, ky, kx, i;
          for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++)
              for (o = 0; o < outc; o++) {
                float acc = 0.0f;
                for (ky = 0; ky < k; ky++) {
                  const int iy = oy * stride - pad + ky;
                  if (iy < 0 || iy >= h) continue;
                  for (kx = 0; kx < k; kx++) {
                    const int ix = ox * stride - pad + kx;
                    const float *px;
                    const int8_t *pq;
                    if (ix < 0 || ix >= w) continue;
                    px = x + ((long)iy * w + ix) * c;
                    pq = q + (((long)o * k + ky) * k + kx) * c;
                    for (i = 0; i < c; i++) acc += (float)pq[i] * px[i];
                  }
                }
                y[((long)oy * ow + ox) * outc + o] = scale[o] * acc;
              }
        }

        /* y = x + b[channel] at every position of an NHWC map of c channels (n values). */
        static FFLIB_MAYBE_UNUSED void add_channel_bias(const float *x, const float *b, int c, int n, float *y)
        {
          int j;
          for (j = 0; j < n; j++) y[j] = x[j] + b[j % c];
        }

        /* k x k max-pooling with the given stride over an NHWC map (h x w x c) into oh x ow x c. */
        static FFLIB_MAYBE_UNUSED void max_pool(const float *x, int h, int w, int c, int k, int stride, int oh, int ow, float *y)
        {
          int oy, ox, ch, ky, kx;
          (void)h;
          for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++)
              for (ch = 0; ch < c; ch++) {
                float m = x[((long)(oy * stride) * w + ox * stride) * c + ch];
                for (ky = 0; ky < k; ky++)
                  for (kx = 0; kx < k; kx++) {
                    const float v = x[((long)(oy * stride + ky) * w + ox * stride + kx) * c + ch];
                    if (v > m) m = v;
                  }
                y[((long)oy * ow + ox) * c + ch] = m;
              }
        }

        /* Class goodnesses of a competitive layer: per group, x^2 summed over every position and the group's
           channels, times weight[group] (1/(positions x channels in the group)). */
        static FFLIB_MAYBE_UNUSED void group_mean_squares(const float *x, int positions, int channels, const int *group, const float *weight,
                                                          int groups, float *y)
        {
          int j, q;
          for (j = 0; j < groups; j++) y[j] = 0.0f;
          for (j = 0; j < channels; j++) {
            float acc = 0.0f;
            for (q = 0; q < positions; q++) { const float v = x[(long)q * channels + j]; acc += v * v; }
            y[group[j]] += acc;
          }
          for (j = 0; j < groups; j++) y[j] *= weight[j];
        }

        static FFLIB_MAYBE_UNUSED void gather(const float *x, const int *index, int n, float *y)
        {
          int j;
          for (j = 0; j < n; j++) y[j] = x[index[j]];
        }

        """;
}
