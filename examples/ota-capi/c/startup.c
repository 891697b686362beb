/* Minimal Cortex-M4 start-up for the QEMU program: vector table, .data/.bss set-up, FPU on
 * (the Rust library is built for the hard-float ABI), then main. */
#include <stdint.h>

extern uint32_t _stack_top, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void systick_handler(void);
void qemu_exit(int ok);

static void semihost_write0(const char *s) {
  register int r0 __asm__("r0") = 0x04;
  register const char *r1 __asm__("r1") = s;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

void fault_handler(void) {
  semihost_write0("capi: FAILED fault: the program took a CPU fault\n");
  qemu_exit(0);
}

void reset_handler(void) {
  /* CPACR: full access to CP10 and CP11 (the FPU). */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
  uint32_t *src = &_sidata;
  for (uint32_t *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  main();
  qemu_exit(0);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top), reset_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0,
    fault_handler, systick_handler};
