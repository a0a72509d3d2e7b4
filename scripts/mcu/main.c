/* Runs the exported model on the test images compiled in (test_images.c) and prints, per image, the
   predicted class and, on the board, the SysTick ticks fflib_predict took (0 on the host). */
#include <stdio.h>
#include <stdint.h>
#include "model.h"

extern const int fflib_test_count;
extern const uint8_t fflib_test_images[];

#if defined(__arm__)
/* SysTick, counting down at the processor clock. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TICKS() (SYST_CVR)
#else
#define TICKS() 0u
#endif

int main(void)
{
  static float image[FFLIB_INPUTS];
  float scores[FFLIB_CLASSES];
  int i, j;
#if defined(__arm__)
  SYST_RVR = 0xFFFFFFu; SYST_CVR = 0; SYST_CSR = 5u; /* processor clock, no interrupt, enabled */
#endif
  for (i = 0; i < fflib_test_count; i++) {
    uint32_t t0, t1;
    int c;
    for (j = 0; j < FFLIB_INPUTS; j++) image[j] = fflib_test_images[(long)i * FFLIB_INPUTS + j] / 255.0f;
    t0 = TICKS();
    c = fflib_predict(image, scores);
    t1 = TICKS();
    printf("%d %lu\n", c, (unsigned long)((t0 - t1) & 0xFFFFFFu));
  }
  return 0;
}
