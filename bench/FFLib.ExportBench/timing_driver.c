/* Times fflib_predict over images read from a raw float32 file and prints the predictions,
   then one line "us_per_image X" on stderr. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"

int main(int argc, char **argv)
{
  FILE *f;
  long n, i;
  float *images, scores[FFLIB_CLASSES];
  int *classes;
  struct timespec t0, t1;
  double us;
  if (argc != 3) { fprintf(stderr, "usage: %s images.f32 count\n", argv[0]); return 2; }
  n = atol(argv[2]);
  images = malloc(sizeof(float) * FFLIB_INPUTS * n);
  classes = malloc(sizeof(int) * n);
  f = fopen(argv[1], "rb");
  if (!f || !images || !classes || fread(images, sizeof(float) * FFLIB_INPUTS, n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
  fclose(f);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (i = 0; i < n; i++) classes[i] = fflib_predict(images + i * FFLIB_INPUTS, scores);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
  for (i = 0; i < n; i++) printf("%d\n", classes[i]);
  fprintf(stderr, "us_per_image %.3f\n", us);
  return 0;
}
