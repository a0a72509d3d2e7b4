/* Test driver for an exported model: reads images as raw little-endian float32 from a file
   (FFLIB_INPUTS per image) and prints, per image, the predicted class and the scores. */
#include <stdio.h>
#include <stdlib.h>
#include "model.h"

int main(int argc, char **argv)
{
  static float image[FFLIB_INPUTS];
  float scores[FFLIB_CLASSES];
  FILE *f;
  int j;
  if (argc != 2) { fprintf(stderr, "usage: %s images.f32\n", argv[0]); return 2; }
  f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 2; }
  while (fread(image, sizeof(float), FFLIB_INPUTS, f) == FFLIB_INPUTS) {
    int c = fflib_predict(image, scores);
    printf("%d", c);
    for (j = 0; j < FFLIB_CLASSES; j++) printf(" %.9g", scores[j]);
    printf("\n");
  }
  fclose(f);
  return 0;
}
