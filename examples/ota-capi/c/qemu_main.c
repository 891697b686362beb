/* The C API on the emulated Cortex-M4 (QEMU mps2-an386): a bare-metal C program linked against
 * the thumbv7em-none-eabihf libfleet_ota.a runs the complete update of c/flow.c on a NOR flash
 * stand-in and prints each step's instruction count over semihosting. With -icount shift=0 one
 * instruction is 1 ns and SysTick (25 MHz) ticks every 40 instructions: counts are exact to 40
 * instructions and the same on every host. Last line:
 *   capi: ok update_instr=U decide_instr=D confirm_instr=C */
#include <stdint.h>
#include <string.h>
#include "fleet_ota.h"
#include "flow.h"
#include "ram_flash.h"
#include "fleet_ota_vectors.h"

/* ---- semihosting ---- */
static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
static void put(const char *s) { semihost(0x04, s); } /* SYS_WRITE0 */
static void put_u64(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  put(&buf[i]);
}
static void field(const char *name, uint64_t v) {
  put(" ");
  put(name);
  put("=");
  put_u64(v);
}
void qemu_exit(int ok) {
  /* SYS_EXIT: ADP_Stopped_ApplicationExit makes QEMU exit 0, RunTimeErrorUnknown exit 1. */
  semihost(0x18, (const void *)(ok ? 0x20026u : 0x20023u));
  for (;;) {
  }
}

/* ---- instruction clock: SysTick with a wrap counter ---- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define RELOAD 0x00FFFFFFu
#define INSTR_PER_TICK 40u
static volatile uint32_t wraps;
void systick_handler(void) { wraps++; }

/* Ticks since the clock started. A read of 0 is retried: the wrap interrupt fires as the counter
 * reaches 0, so 0 belongs to the next period (it lasts one tick). */
static uint64_t ticks(void) {
  for (;;) {
    uint32_t w = wraps;
    uint32_t cur = SYST_CVR;
    if (cur != 0 && wraps == w) return (uint64_t)w * (RELOAD + 1u) + (RELOAD - cur);
  }
}
static uint64_t instructions(void) { return ticks() * INSTR_PER_TICK; }

static void delay_loop(uint32_t n) { /* exactly 2 * n instructions */
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
}

/* ---- stack high-water mark: paint below the current stack pointer, scan after ---- */
extern uint32_t _ebss, _stack_top;
#define PAINT 0xA5C3E1F7u
#define PAINT_BYTES (64u * 1024u) /* far more than the update path needs */
static uint32_t *paint_floor;
__attribute__((noinline)) static void paint_stack(void) {
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  paint_floor = sp - PAINT_BYTES / 4;
  for (uint32_t *p = paint_floor; p < sp - 16; p++) *p = PAINT;
}
/* Bytes of stack used from the top of RAM down to the deepest painted word overwritten. */
static uint32_t stack_high_water(void) {
  uint32_t *p = paint_floor;
  while (*p == PAINT) p++;
  return (uint32_t)((uint8_t *)&_stack_top - (uint8_t *)p);
}

static ram_flash nor;
static uint8_t nor_mem[FLOW_CAPACITY] __attribute__((section(".nor"), aligned(8)));
static _Alignas(FLEET_OTA_UPDATER_STORAGE_ALIGN) uint8_t storage[FLEET_OTA_UPDATER_STORAGE_SIZE];
static _Alignas(FLEET_OTA_DECRYPTOR_STORAGE_ALIGN) uint8_t dec_storage[FLEET_OTA_DECRYPTOR_STORAGE_SIZE];

static _Alignas(FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_ALIGN) uint8_t hb_storage[FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE];
static uint8_t hb_frame[FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN];

static void report_failure(const flow_failure *fail) {
  put("capi: FAILED step=");
  put(fail->step);
  put(": ");
  put(fleet_ota_error_name(fail->status));
  put(" (");
  put(fleet_ota_error_message(fail->status));
  put(")\n");
  qemu_exit(0);
}

int main(void) {
  SYST_CSR = 0;
  SYST_RVR = RELOAD;
  SYST_CVR = 0;
  SYST_CSR = 0x7; /* core clock, interrupt, enable */
  while (SYST_CVR == 0) {
    /* the first tick loads RELOAD without an interrupt */
  }

  /* Check the clock counts 1 tick per 40 instructions, or the figures would be wrong. */
  uint64_t t0 = ticks();
  delay_loop(1000000);
  uint64_t measured = ticks() - t0, expected = 2000000u / INSTR_PER_TICK;
  put("clock: 2000000 instructions took ");
  put_u64(measured);
  put(" SysTick ticks (expected ");
  put_u64(expected);
  put(")\n");
  if (measured + 2 < expected || measured > expected + 2) {
    put("capi: FAILED clock: run QEMU with -icount shift=0 on mps2-an386\n");
    qemu_exit(0);
  }

  nor.mem = nor_mem;
  nor.capacity = FLOW_CAPACITY;
  nor.read_size = 1;
  nor.write_size = 8;
  nor.erase_size = 4096;
  nor.erased = 0xFF;
  ram_flash_noise(&nor, 7);
  fleet_ota_flash_t ops = ram_flash_ops(&nor);

  flow_figures f;
  flow_failure fail = {0};
  uint32_t *entry_sp;
  __asm__ volatile("mov %0, sp" : "=r"(entry_sp));
  uint32_t base_stack = (uint32_t)((uint8_t *)&_stack_top - (uint8_t *)entry_sp);
  paint_stack();
  if (flow_full_update(&ops, storage, sizeof storage, NULL, instructions, &f, &fail) != 0)
    report_failure(&fail);
  uint32_t stack = stack_high_water();
  const ram_flash wear = nor; /* the plaintext update's wear */
  /* The same update with the encrypted release: decrypt each segment, then write it. */
  flow_figures e;
  paint_stack();
  if (flow_full_update(&ops, storage, sizeof storage, dec_storage, instructions, &e, &fail) != 0)
    report_failure(&fail);
  uint32_t stack_encrypted = stack_high_water();
  uint64_t hb_instr[2];
  size_t hb_bytes[2];
  if (flow_heartbeat(hb_storage, hb_frame, instructions, hb_instr, hb_bytes, &fail) != 0)
    report_failure(&fail);
  if (nor.violations != 0) {
    put("capi: FAILED flash: the library broke the flash protocol\n");
    qemu_exit(0);
  }
  if (stack >= PAINT_BYTES || stack_encrypted >= PAINT_BYTES) {
    put("capi: FAILED stack: the paint was overrun; raise PAINT_BYTES\n");
    qemu_exit(0);
  }
  uint64_t update = f.verify + f.begin + f.write + f.finish + f.activate;
  uint64_t update_encrypted = e.verify + e.begin + e.decrypt + e.write + e.finish + e.activate;
  /* The flash driver alone reading the new image back in 512-byte blocks (as finish and decide
   * do): the part of their counts that is this C driver, not the library. */
  static uint8_t block[512];
  uint64_t t1 = instructions();
  for (uint32_t at = 0; at < FV_IMAGE_LEN; at += sizeof block) {
    uint32_t n = FV_IMAGE_LEN - at < sizeof block ? FV_IMAGE_LEN - at : sizeof block;
    ops.read(ops.ctx, FLOW_LAYOUT.slot_b + at, block, n);
  }
  uint64_t driver_read = instructions() - t1;
  put("steps:");
  field("provision", f.provision);
  field("decide_factory", f.decide_factory);
  field("open", f.open);
  field("verify", f.verify);
  field("begin", f.begin);
  field("write", f.write);
  field("finish", f.finish);
  field("activate", f.activate);
  field("decide_trial", f.decide_trial);
  field("reopen", f.reopen);
  field("confirm", f.confirm);
  field("decide_confirmed", f.decide_confirmed);
  put("\nencrypted:");
  field("verify", e.verify);
  field("begin_and_decryptor_open", e.begin);
  field("decrypt", e.decrypt);
  field("write", e.write);
  field("finish", e.finish);
  field("activate", e.activate);
  field("stack_bytes", stack_encrypted - base_stack);
  put("\nheartbeat (12 vitals, frames byte-identical to telemetry-core's):");
  field("key_frame_instr", hb_instr[0]);
  field("key_frame_bytes", hb_bytes[0]);
  field("delta_frame_instr", hb_instr[1]);
  field("delta_frame_bytes", hb_bytes[1]);
  put("\nimage:");
  field("bytes", FV_IMAGE_LEN);
  field("updater_storage_bytes", fleet_ota_updater_storage_size());
  field("driver_read_instr", driver_read);
  field("stack_bytes", stack - base_stack);
  put("\nwear:");
  field("sector_erases", wear.erases);
  field("writes", wear.writes);
  field("bytes_written", wear.bytes_written);
  put("\ncapi: ok");
  field("update_instr", update);
  field("decide_instr", f.decide_trial);
  field("confirm_instr", f.confirm);
  field("update_encrypted_instr", update_encrypted);
  field("heartbeat_instr", hb_instr[0]);
  put("\n");
  qemu_exit(1);
  return 0;
}
