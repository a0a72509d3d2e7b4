/* Runs the exported model on the test images compiled in (test_images.c) and prints one
   predicted class per line over semihosting. */
#include <stdio.h>
#include <stdint.h>
#include "model.h"

extern const int fflib_test_count;
extern const uint8_t fflib_test_images[];

int main(void)
{
  static float image[FFLIB_INPUTS];
  float scores[FFLIB_CLASSES];
  int i, j;
  for (i = 0; i < fflib_test_count; i++) {
    for (j = 0; j < FFLIB_INPUTS; j++) image[j] = fflib_test_images[(long)i * FFLIB_INPUTS + j] / 255.0f;
    printf("%d\n", fflib_predict(image, scores));
  }
  return 0;
}
