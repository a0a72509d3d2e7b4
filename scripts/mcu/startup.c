/* Minimal Cortex-M4F start-up for qemu's mps2-an386 board: vector table, FPU on, .data copied,
   .bss zeroed, then newlib's _start (rdimon: semihosting I/O and exit). */
#include <stdint.h>

extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start__, __bss_end__;
extern void _start(void);

void reset_handler(void)
{
  uint32_t *src = &__data_load, *dst = &__data_start;
  volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
  *cpacr |= 0xFu << 20; /* CP10 and CP11: full access to the FPU */
  __asm volatile ("dsb\n isb");
  while (dst < &__data_end) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__; ) *dst++ = 0;
  _start();
  for (;;) { }
}

static void fault(void) { for (;;) { } }

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
  (void (*)(void))&__stack_top, reset_handler, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0, fault, fault,
};
